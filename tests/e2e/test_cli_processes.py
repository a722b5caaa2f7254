"""End to end: `qtasks -A app:app run --isolation process`, a real worker process on the
default SQLite backend whose sync task bodies run in child processes. The tasks are
decorated with `@app.task` in the app module, so the child finds each function through
the task object the decorator left there. No child outlives the worker, whether it stops
cleanly (SIGTERM) or is killed (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qtasks import QueueTasks

pytestmark = pytest.mark.e2e

LIMIT = 20.0

APP_SOURCE = textwrap.dedent(
    """
    import os
    import time
    from pathlib import Path

    from qtasks import QueueTasks

    app = QueueTasks("procapp")


    @app.task
    def where():
        return os.getpid()


    @app.task(isolation="thread")
    def where_thread():
        return os.getpid()


    @app.task
    def hang(marks):
        Path(marks, "hang").write_text(str(os.getpid()))
        time.sleep(60)
    """
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "procapp.py").write_text(APP_SOURCE)
    (tmp_path / "marks").mkdir()
    return tmp_path


@pytest.fixture
def start_worker(workdir: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(workdir), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        with open(workdir / "worker.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "qtasks", "-A", "procapp:app", "run", *args],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def client(workdir: Path) -> Iterator[QueueTasks]:
    app = QueueTasks("procapp")  # no URL: ./qtasks.db, like the worker
    yield app
    app.backend.close_sync()


def gone(pid: int) -> bool:
    """No such process, or only its exit status is left (a zombie runs nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def wait_until(check: Callable[[], Any], what: str, timeout: float = LIMIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached within {timeout}s")


def test_isolation_flag_runs_bodies_in_children_that_stop_with_the_worker(
    workdir: Path, start_worker: Callable[..., subprocess.Popen[bytes]], client: QueueTasks
) -> None:
    worker = start_worker("--isolation", "process", "--concurrency", "2")
    in_child = client.add_task("where", timeout=LIMIT)
    in_thread = client.add_task("where_thread", timeout=LIMIT)
    assert in_child is not None and in_thread is not None, (workdir / "worker.log").read_text()
    assert in_child.status == "success" and in_thread.status == "success"
    assert in_thread.returning == worker.pid  # opted out: the worker's own thread
    child_pid = in_child.returning
    assert child_pid != worker.pid and not gone(child_pid)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(LIMIT) == 0
    assert gone(child_pid)


def test_a_child_leaves_when_its_worker_is_killed(
    workdir: Path, start_worker: Callable[..., subprocess.Popen[bytes]], client: QueueTasks
) -> None:
    worker = start_worker("--isolation", "process")
    client.add_task("hang", str(workdir / "marks"))
    mark = workdir / "marks" / "hang"
    wait_until(mark.exists, "the body started")
    child_pid = int(mark.read_text())
    worker.kill()  # no shutdown at all: the child notices its worker is gone
    worker.wait(LIMIT)
    assert wait_until(lambda: gone(child_pid), "the orphaned child gone", timeout=10)
