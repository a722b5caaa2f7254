"""End to end with real worker processes (`python -m qtasks -A module:app run`) on SQLite
and Redis: a task that kills its worker (`os._exit`) is dead-lettered after
`max_deliveries`, and the tasks that shared its crash all finish, each run at most
twice; a task raising SystemExit or KeyboardInterrupt ends as an error and its worker
process lives on.

A supervisor loop in the test restarts the worker whenever it dies. Executions are
counted through files the task bodies append to.
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

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
LIMIT = 60.0

APP_SOURCE = textwrap.dedent(
    """
    import asyncio
    import os
    import time
    from pathlib import Path

    from qtasks import QueueTasks

    app = QueueTasks(os.environ["E2E_APP"], broker_url=os.environ["E2E_URL"])
    MARKS = Path(os.environ["E2E_MARKS"])


    def record(tag, what="ran"):
        with open(MARKS / f"{tag}.runs", "a") as f:
            f.write(f"{os.getpid()} {what}\\n")


    def lines(tag):
        path = MARKS / f"{tag}.runs"
        return path.read_text().splitlines() if path.exists() else []


    @app.task
    def warm_up():
        return "ready"


    @app.task
    def poison(tag, innocents):
        record(tag)
        if len(lines(tag)) == 1:
            # the first time, die only once the innocents fetched with it run too
            me, deadline = str(os.getpid()), time.time() + 10
            while time.time() < deadline:
                started = [t for t in innocents for line in lines(t) if line.split()[0] == me]
                if len(started) == len(innocents):
                    break
                time.sleep(0.01)
        os._exit(1)


    @app.task
    def innocent(tag):
        record(tag)
        time.sleep(0.3)
        return tag


    @app.task
    def exits():
        raise SystemExit(2)


    @app.task
    async def interrupted():
        raise KeyboardInterrupt("inside the task")


    @app.task
    def interrupted_sync():
        raise KeyboardInterrupt("inside the sync task")
    """
)


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return PG_URL
    return f"sqlite:///{tmp_path}/poison.db" if request.param == "sqlite" else REDIS_URL


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "poison_app.py").write_text(APP_SOURCE)
    (tmp_path / "marks").mkdir()
    return tmp_path


@pytest.fixture
def app_name() -> str:
    return f"poison-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(url: str, app_name: str) -> Iterator[QueueTasks]:
    app = QueueTasks(app_name, broker_url=url)
    yield app
    app.backend.purge_sync()
    app.backend.close_sync()


@pytest.fixture
def start_worker(
    workdir: Path, url: str, app_name: str
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        full_env = dict(os.environ)
        full_env.update(
            PYTHONPATH=os.pathsep.join(
                [str(workdir), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            PYTHONUNBUFFERED="1",
            E2E_MARKS=str(workdir / "marks"),
            E2E_URL=url,
            E2E_APP=app_name,
            **env,
        )
        with open(workdir / f"worker-{len(started)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "qtasks", "-A", "poison_app:app", "run"],
                cwd=workdir,
                env=full_env,
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


def runs(workdir: Path, tag: str) -> int:
    path = workdir / "marks" / f"{tag}.runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize("order", ["poison first", "poison last"])
def test_a_poison_task_is_dead_lettered_and_the_innocents_finish(
    order: str,
    url: str,
    client: QueueTasks,
    start_worker: Callable[..., subprocess.Popen[bytes]],
    workdir: Path,
) -> None:
    env = {"QTASKS_LEASE_TIMEOUT": "1", "QTASKS_MAX_DELIVERIES": "3"}
    worker = start_worker(**env)
    # once the worker fetches in batches, the poison and the innocents come in one batch
    assert client.add_task("warm_up", timeout=LIMIT).status == "success"  # type: ignore[union-attr]
    innocents = [f"innocent{i}" for i in range(5)]
    calls: list[Any] = [("innocent", [tag], {}) for tag in innocents]
    poison_call = ("poison", ["poison", innocents], {})
    calls = [poison_call, *calls] if order == "poison first" else [*calls, poison_call]
    tasks = client.add_tasks(calls)
    uuids = [str(t.uuid) for t in tasks]
    restarts, deadline = 0, time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        records = [client.get(u) for u in uuids]
        if all(r is not None and r.status in ("success", "error") for r in records):
            break
        if worker.poll() is not None:  # the supervisor restarts a dead worker
            restarts += 1
            worker = start_worker(**env)
        time.sleep(0.05)
    else:
        raise AssertionError(f"not all final within {LIMIT}s: {records}")
    by_name = {r.task_name if r.task_name == "poison" else r.args[0]: r for r in records}
    dead = by_name["poison"]
    assert dead.status == "error" and dead.dead_letter == dead.traceback
    assert "delivered 4 times" in dead.traceback and "max_deliveries=3" in dead.traceback
    assert runs(workdir, "poison") == 3 and restarts == 3
    for tag in innocents:
        assert by_name[tag].status == "success" and by_name[tag].returning == tag
        assert 1 <= runs(workdir, tag) <= 2, (tag, runs(workdir, tag))
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(LIMIT) == 0


def test_a_task_raising_systemexit_or_keyboardinterrupt_does_not_end_its_worker(
    url: str, client: QueueTasks, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    worker = start_worker()
    for name, text in [
        ("exits", "SystemExit: 2"),
        ("interrupted", "KeyboardInterrupt: inside the task"),
        ("interrupted_sync", "KeyboardInterrupt: inside the sync task"),
    ]:
        done = client.add_task(name, timeout=LIMIT)
        assert done is not None and done.status == "error" and text in done.traceback
        assert worker.poll() is None
    ok = client.add_task("innocent", "after", timeout=LIMIT)
    assert ok is not None and ok.status == "success"
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(LIMIT) == 0
