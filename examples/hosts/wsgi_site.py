"""A WSGI site that enqueues tasks, for gunicorn with several worker processes:

    gunicorn --preload --workers 3 wsgi_site:application

With `--preload` the app (and its first connections) is created in gunicorn's master
before it forks the workers; each worker opens its own connections on first use after
the fork (qtasks checks the process id), so none is shared across processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from tasks import app

app.ping(server=False)  # the master talks to the backend before forking


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    task = app.add_task("hosts.work", 0.01, timeout=20)
    body = json.dumps(
        {"web_pid": os.getpid(), "status": task.status, "result": task.returning}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
