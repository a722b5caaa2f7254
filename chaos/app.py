"""The app the chaos workers run: `python -m qtasks -A chaos.app:make_app run`.

Everything comes from the environment, set by the harness for each scenario:
`CHAOS_URL` (the backend), `CHAOS_APP` (the app name, a fresh namespace per scenario),
`CHAOS_RUNS` (the run log) and the usual `QTASKS_*` config fields (`QTASKS_LEASE_TIMEOUT`,
`QTASKS_MAX_DELIVERIES`, `QTASKS_SHUTDOWN_GRACE`).

Every task body writes what really ran to the run log, outside the backend: a line
`S <uuid> <pid> <execution> <epoch>` when it starts and `E ...` when its body is done,
each with one `write()` on a file opened with O_APPEND (atomic for lines this short, so
processes killed at any moment never leave half lines among other processes' lines).
A task returns its execution id (`<pid>:<random>`), so the final record names the
execution whose result was stored.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

_fd: int | None = None


def mark(kind: str, task_uuid: str, execution: str) -> None:
    """Append one event line to the run log."""
    global _fd
    if _fd is None:
        _fd = os.open(os.environ["CHAOS_RUNS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_fd, f"{kind} {task_uuid} {os.getpid()} {execution} {time.time():.6f}\n".encode())


def new_execution() -> str:
    return f"{os.getpid()}:{uuid.uuid4().hex[:10]}"


def make_app() -> Any:
    """The worker app, with the scenario tasks; built by the CLI (`-A chaos.app:make_app`)."""
    from qtasks import QueueTasks

    app = QueueTasks(os.environ.get("CHAOS_APP", "chaos"), broker_url=os.environ["CHAOS_URL"])

    @app.task(name="work", echo=True)
    async def work(self: Any, seconds: float) -> str:
        """An async task that waits `seconds` on the loop."""
        me, ex = str(self.ctx.task_uuid), new_execution()
        mark("S", me, ex)
        await asyncio.sleep(seconds)
        mark("E", me, ex)
        return ex

    @app.task(name="sync_work", echo=True)
    def sync_work(self: Any, seconds: float) -> str:
        """A sync task that sleeps `seconds` in its worker thread."""
        me, ex = str(self.ctx.task_uuid), new_execution()
        mark("S", me, ex)
        time.sleep(seconds)
        mark("E", me, ex)
        return ex

    @app.task(name="poison", echo=True)
    def poison(self: Any) -> str:
        """Kills the worker process that runs it."""
        me, ex = str(self.ctx.task_uuid), new_execution()
        mark("S", me, ex)
        os._exit(1)

    @app.task(name="blocker", echo=True)
    async def blocker(self: Any, seconds: float) -> str:
        """An async task that blocks its event loop for `seconds` (time.sleep)."""
        me, ex = str(self.ctx.task_uuid), new_execution()
        mark("S", me, ex)
        time.sleep(seconds)
        mark("E", me, ex)
        return ex

    return app
