"""Every background job has an owner: a failing worker stops its siblings, a cancellation
at any point of start-up leaves nothing running, and the process has one portal."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import qtasks
import qtasks.asyncio
from qtasks.backends.bridge import portal
from qtasks.engine.server import Server
from qtasks.engine.worker import Worker

pytestmark = pytest.mark.anyio

LIMIT = 10.0


def _app() -> Any:
    name = f"sc-{uuid.uuid4().hex[:8]}"
    return qtasks.asyncio.QueueTasks(name, broker_url=f"memory://{name}")


def _tasks() -> set[asyncio.Task[Any]]:
    return set(asyncio.all_tasks())


class BrokenConsumer(RuntimeError):
    pass


@pytest.fixture
def fail_queue(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make the consumers of one queue's worker fail (a bug in a worker, say)."""

    def arm(queue: str) -> None:
        original = Worker._consume

        async def consume(self: Worker, number: int) -> None:
            if self.queue == queue:
                await asyncio.sleep(0.05)
                raise BrokenConsumer(f"consumer of {queue!r} broke")
            await original(self, number)

        monkeypatch.setattr(Worker, "_consume", consume)

    return arm


async def test_a_failing_worker_stops_its_siblings(fail_queue: Callable[[str], None]) -> None:
    before = _tasks()
    fail_queue("bad")
    app = _app()
    server = Server(app, queues=["good", "bad"])
    with pytest.raises(BrokenConsumer, match="broke"):
        await asyncio.wait_for(server.serve(), LIMIT)
    assert _tasks() == before


@pytest.mark.parametrize("ticks", [0, 1, 2, 3, 5, 8, 13, 21, 34])
async def test_cancelling_start_up_at_any_point_leaves_nothing_running(ticks: int) -> None:
    before = _tasks()
    app = _app()

    @app.task
    async def noop() -> None:
        return None

    server = Server(app)
    task = asyncio.ensure_future(server.serve())
    for _ in range(ticks):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _tasks() == before


async def test_stop_after_start_leaves_nothing_running() -> None:
    before = _tasks()
    app = _app()
    await app.start()
    await app.stop()
    assert _tasks() == before


def test_one_portal_thread_for_every_sync_caller() -> None:
    async def where() -> str:
        return threading.current_thread().name

    first = portal().call(where)
    second = portal().call(where)
    names = [t.name for t in threading.enumerate() if t.name == "qtasks-portal"]
    assert first == second == "qtasks-portal" and names == ["qtasks-portal"]


@pytest.mark.skipif(os.name != "posix", reason="uses SIGALRM")
def test_an_interrupted_sync_call_cancels_its_coroutine() -> None:
    state: dict[str, bool] = {}

    async def long() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(KeyboardInterrupt):
            portal().call(long)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert state == {"cancelled": True}


def test_a_failing_worker_fails_run_forever_with_its_own_error(
    fail_queue: Callable[[str], None],
) -> None:
    fail_queue("default")
    name = f"sc-{uuid.uuid4().hex[:8]}"
    app = qtasks.QueueTasks(name, broker_url=f"memory://{name}")
    with pytest.raises(BrokenConsumer, match="broke"):
        app.run_forever()
