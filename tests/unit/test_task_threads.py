"""The worker's thread pool for sync task code (qtasks.engine.threads)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from qtasks.engine.threads import TaskThreads

pytestmark = pytest.mark.anyio

who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_results_errors_and_contextvars() -> None:
    pool = TaskThreads(2)
    who.set("caller")

    def body(x: int) -> tuple[int, str, str]:
        return x * 2, who.get(), threading.current_thread().name

    value, seen, thread = await pool.call(body, 21)
    assert (value, seen) == (42, "caller")
    assert thread.startswith("qtasks-task_") and thread != threading.current_thread().name

    def boom() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        await pool.call(boom)
    pool.shutdown(wait=True)


async def test_many_concurrent_calls_all_come_back_on_at_most_size_threads() -> None:
    pool = TaskThreads(4)
    names: set[str] = set()

    def body(i: int) -> int:
        names.add(threading.current_thread().name)
        time.sleep(0.0005)
        return i

    results = await asyncio.gather(*(pool.call(body, i) for i in range(500)))
    assert results == list(range(500))
    assert 1 <= len(names) <= 4
    assert len(pool._threads) <= 4
    pool.shutdown(wait=True)


async def test_threads_start_only_when_needed() -> None:
    pool = TaskThreads(8)
    for i in range(20):  # one call at a time: one thread serves them all
        assert await pool.call(lambda i=i: i) == i
    assert len(pool._threads) == 1
    pool.shutdown(wait=True)


async def test_a_caller_that_stops_waiting_does_not_break_the_others() -> None:
    pool = TaskThreads(2)
    release = threading.Event()
    slow = asyncio.ensure_future(pool.call(release.wait, 5))
    await asyncio.sleep(0.05)
    slow.cancel()  # like max_time: the caller gives up, the thread finishes later
    with pytest.raises(asyncio.CancelledError):
        await slow
    release.set()
    assert await pool.call(lambda: "after") == "after"
    pool.shutdown(wait=True)


async def test_submit_and_shutdown_like_an_executor() -> None:
    pool = TaskThreads(1)
    future = pool.submit(pow, 2, 10)
    assert future.result(timeout=5) == 1024
    gate = threading.Event()
    pool.submit(gate.wait, 5)
    queued = pool.submit(pow, 3, 3)
    pool.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert queued.cancelled()
    with pytest.raises(RuntimeError, match="stopped"):
        await pool.call(pow, 2, 2)
    with pytest.raises(ValueError):
        TaskThreads(0)
