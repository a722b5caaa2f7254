"""The app the host examples run (gunicorn site, systemd unit, container entrypoint).

The backend comes from QTASKS_BROKER_URL (Redis or PostgreSQL when several machines
or processes share it; the SQLite default for one machine)."""

from __future__ import annotations

import os
import time

from qtasks import QueueTasks

app = QueueTasks(name=os.environ.get("HOSTS_APP_NAME", "hosts-demo"))


@app.task(name="hosts.work")
def work(seconds: float) -> dict[str, float | int]:
    time.sleep(seconds)  # stands for real work that must not be cut short
    return {"slept": seconds, "pid": os.getpid()}
