"""End to end, with worker processes started through the CLI: leases do not depend on the
worker's event loop, and a worker with too many stuck task threads exits with code 75.

Executions are counted by the task bodies themselves, appending a line to a file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qtasks import QueueTasks

pytestmark = pytest.mark.e2e

LIMIT = 30.0
REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

APP_SOURCE = textwrap.dedent(
    """
    import os
    import time
    from pathlib import Path

    from qtasks import QueueTasks

    app = QueueTasks(os.environ["LEASE_APP"])
    MARKS = Path(os.environ["LEASE_MARKS"])


    def record(tag):
        with open(MARKS / f"{tag}.runs", "a") as f:
            f.write(f"{os.getpid()}\\n")


    @app.task
    async def hog(tag, seconds):
        record(tag)
        time.sleep(seconds)  # blocks this worker's event loop
        return os.getpid()


    @app.task(max_time=0.3)
    def stuck(tag, seconds):
        record(tag)
        time.sleep(seconds)  # keeps its thread long after the time limit


    @app.task
    def die(tag):
        record(tag)
        os._exit(1)  # takes its worker process down
    """
)


class Workers:
    """Worker processes of the test app (`python -m qtasks -A lease_app:app run ...`)."""

    def __init__(self, workdir: Path, url: str, app_name: str) -> None:
        self.workdir = workdir
        self.url = url
        self.app_name = app_name
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        full_env = dict(os.environ)
        full_env.update(
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(self.workdir), os.environ.get("PYTHONPATH")])
            ),
            PYTHONUNBUFFERED="1",
            QTASKS_BROKER_URL=self.url,
            LEASE_APP=self.app_name,
            LEASE_MARKS=str(self.workdir / "marks"),
        )
        full_env.update(env or {})
        log_path = self.workdir / f"worker-{len(self.procs)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "qtasks", "-A", "lease_app:app", "run", *args],
                cwd=self.workdir,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append((proc, log_path))
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        path = next(p for w, p in self.procs if w is proc)
        return path.read_text(errors="replace")

    def stop_all(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _url(kind: str, workdir: Path) -> str:
    if kind == "postgres":
        return PG_URL
    return REDIS_URL if kind == "redis" else f"sqlite:///{workdir}/leases.db"


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Workers, QueueTasks]]:
    (tmp_path / "lease_app.py").write_text(APP_SOURCE)
    (tmp_path / "marks").mkdir()
    name = f"leases-{uuid.uuid4().hex[:8]}"
    url = _url(str(request.param), tmp_path)
    workers = Workers(tmp_path, url, name)
    client = QueueTasks(name, broker_url=url)
    try:
        yield workers, client
    finally:
        workers.stop_all()
        client.flush_all()
        client.backend.close_sync()


def runs(workers: Workers, tag: str) -> list[int]:
    path = workers.workdir / "marks" / f"{tag}.runs"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def wait_until(check: Callable[[], Any], what: str, timeout: float = LIMIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")


def test_an_async_task_blocking_its_loop_keeps_its_lease(
    setup: tuple[Workers, QueueTasks],
) -> None:
    """lease_timeout=2 and an async task that blocks its worker's loop for 5 s, with a
    second worker fetching all along: the lease thread keeps the lease, so the task runs
    exactly once, and its worker names it in a warning."""
    workers, client = setup
    env = {"QTASKS_LEASE_TIMEOUT": "2"}
    first = workers.start(env=env)
    second = workers.start(env=env)
    wait_until(lambda: len(client.backend.live_workers_sync()) == 2, "two live workers")
    task = client.add_task("hog", "once", 5)
    done = client.wait(task.uuid, LIMIT)
    assert done is not None and done.status == "success", done
    time.sleep(1.0)  # a second execution would have started long before the first ended
    assert len(runs(workers, "once")) == 1, runs(workers, "once")
    blocked = first if done.returning == first.pid else second
    log = workers.log(blocked)
    assert f"Task hog ({task.uuid}) has blocked the event loop" in log, log
    assert log.count("has blocked the event loop") == 1, log


def test_too_many_stuck_threads_exit_with_75(setup: tuple[Workers, QueueTasks]) -> None:
    """-c 1 and max_stuck_threads=1: the second thread stuck past its time limit makes
    the worker drain and exit with 75; what is still queued stays queued."""
    workers, client = setup
    proc = workers.start("-c", "1", env={"QTASKS_MAX_STUCK_THREADS": "1"})
    wait_until(lambda: len(client.backend.live_workers_sync()) == 1, "a live worker")
    stuck = [client.add_task("stuck", f"stuck{i}", 60) for i in range(2)]
    start = time.monotonic()
    assert proc.wait(LIMIT) == 75, workers.log(proc)
    assert time.monotonic() - start < LIMIT / 2  # not the 60 s the threads are blocked
    log = workers.log(proc)
    assert "Recycling this worker" in log and "max_stuck_threads=1" in log, log
    assert [client.get(t.uuid).status for t in stuck] == ["error", "error"]
    later = client.add_task("stuck", "later", 0)
    time.sleep(0.3)
    assert client.get(later.uuid).status == "new"
    assert client.backend.live_workers_sync() == []  # it unregistered on the way out


def test_with_processes_a_recycled_worker_is_replaced(setup: tuple[Workers, QueueTasks]) -> None:
    """--processes 2: each worker process that recycles itself is replaced by a fresh
    one, so the command keeps two workers; SIGTERM then stops it with 0."""
    workers, client = setup
    parent = workers.start("-c", "1", "--processes", "2", env={"QTASKS_MAX_STUCK_THREADS": "1"})
    wait_until(lambda: len(client.backend.live_workers_sync()) == 2, "two live workers")
    first_pids = {w["pid"] for w in client.backend.live_workers_sync()}
    # four stuck tasks: at least one process gets two of them (one more than allowed)
    stuck = [client.add_task("stuck", f"stuck{i}", 60) for i in range(4)]

    def replaced() -> bool:
        pids = {w["pid"] for w in client.backend.live_workers_sync()}
        return len(pids) == 2 and bool(pids - first_pids)

    wait_until(replaced, "a fresh worker process")
    assert "recycled itself (exit code 75): starting a fresh one" in workers.log(parent)
    wait_until(lambda: all(client.get(t.uuid).status == "error" for t in stuck), "the time limits")
    done = client.add_task("stuck", "fresh", 0)
    assert client.wait(done.uuid, LIMIT).status == "success"
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(LIMIT) == 0


def test_with_processes_a_crashed_worker_is_replaced(setup: tuple[Workers, QueueTasks]) -> None:
    """--processes 2: a worker process a task kills is replaced (and the replacement
    logged), so the poison task runs out its deliveries and is dead-lettered while the
    command keeps serving; SIGTERM then stops it with 0."""
    workers, client = setup
    env = {"QTASKS_LEASE_TIMEOUT": "1", "QTASKS_MAX_DELIVERIES": "2"}
    parent = workers.start("-c", "2", "--processes", "2", env=env)
    wait_until(lambda: len(client.backend.live_workers_sync()) == 2, "two live workers")
    poison = client.add_task("die", "poison")

    def dead_lettered() -> bool:
        record = client.get(poison.uuid)
        return record is not None and record.status == "error"

    wait_until(dead_lettered, "the poison task dead-lettered")
    assert "died (exit code 1): starting a fresh one" in workers.log(parent)
    assert len(runs(workers, "poison")) == 2
    done = client.add_task("stuck", "after", 0)
    assert client.wait(done.uuid, LIMIT).status == "success"
    assert parent.poll() is None
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(LIMIT) == 0
