"""End to end: `qtasks -A app:app run --metrics-port 0`, one worker process or several,
scraped over HTTP while they drain tasks a client enqueued: the counts of every process
add up on the one port, and a process that stops takes its slots with it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from qtasks import QueueTasks

pytestmark = pytest.mark.e2e

LIMIT = 30.0

APP_SOURCE = textwrap.dedent(
    """
    from qtasks import QueueTasks

    app = QueueTasks("metricsapp")


    @app.task
    def double(x):
        return 2 * x
    """
)


def scrape(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("queue") == "default" and "le" not in s.labels:
                out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def start(workdir: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env["PYTHONPATH"] = str(workdir)
    log = workdir / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qtasks", "-A", "metricsapp:app", "run", *args],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        found = re.search(r"Serving Prometheus metrics at (\S+)", log.read_text())
        if found:
            return proc, found.group(1)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no metrics URL logged:\n{log.read_text()}")


@pytest.mark.parametrize(("processes", "isolation"), [(1, "thread"), (2, "thread"), (2, "process")])
def test_one_port_serves_every_worker_process(
    tmp_path: Path, processes: int, isolation: str
) -> None:
    """Task bodies in child processes (`--isolation process`) are counted by the worker
    that runs them, like any other."""
    (tmp_path / "metricsapp.py").write_text(APP_SOURCE)
    app = QueueTasks("metricsapp", broker_url=f"sqlite:///{tmp_path}/qtasks.db")
    proc, url = start(
        tmp_path, "--processes", str(processes), "--isolation", isolation, "--metrics-port", "0"
    )
    try:
        tasks = [app.add_task("double", i) for i in range(40)]
        for task in tasks:
            done = app.wait(task.uuid, timeout=LIMIT)
            assert done is not None and done.status == "success"
        deadline = time.monotonic() + LIMIT
        while True:  # each process writes its snapshot within a second of its acks
            found = scrape(url)
            if found.get("qtasks_tasks_succeeded_total") == 40 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert found["qtasks_tasks_succeeded_total"] == 40
        assert found["qtasks_tasks_started_total"] == 40
        assert found["qtasks_task_run_seconds_count"] == 40
        assert found["qtasks_worker_slots"] == processes * app.config.max_tasks_process
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=LIMIT) == 0, (tmp_path / "worker.log").read_text()
        app.backend.close_sync()
    # the port is closed with the command
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    (tmp_path / "metricsapp.py").write_text(APP_SOURCE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
        env.update(PYTHONPATH=str(tmp_path), QTASKS_METRICS_PORT=str(port))
        done = subprocess.run(
            [sys.executable, "-m", "qtasks", "-A", "metricsapp:app", "run"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
    assert done.returncode != 0
    assert "--metrics-port" in done.stderr and "Traceback" not in done.stderr
