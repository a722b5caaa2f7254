"""The worker's thread pool for sync task code (qtasks.engine.threads)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from typing import Any

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


# --- started means started; stuck threads ----------------------------------------------------


async def test_a_call_given_up_before_it_started_never_runs() -> None:
    pool = TaskThreads(1)
    gate = threading.Event()
    ran: list[str] = []
    busy = asyncio.ensure_future(pool.call(gate.wait, 5))
    await asyncio.sleep(0.05)
    queued = asyncio.ensure_future(pool.call(ran.append, "queued"))
    await asyncio.sleep(0.05)
    queued.cancel()  # still waiting for the only thread
    with pytest.raises(asyncio.CancelledError):
        await queued
    gate.set()
    assert await busy is True
    assert await pool.call(lambda: "next") == "next"  # the thread went past it
    assert ran == []
    pool.shutdown(wait=True)


async def test_follow_sees_when_the_call_started_on_its_thread() -> None:
    pool = TaskThreads(1)
    gate = threading.Event()
    seen: list[Any] = []
    busy = asyncio.ensure_future(pool.call(gate.wait, 5))
    await asyncio.sleep(0.05)
    handed_off = time.monotonic()
    second = asyncio.ensure_future(pool.call(lambda: None, follow=seen.append))
    await asyncio.sleep(0.2)
    assert seen[0].started is None  # queued behind the busy thread
    gate.set()
    await asyncio.gather(busy, second)
    assert seen[0].started - handed_off >= 0.2


async def test_a_written_off_thread_is_replaced_up_to_max_stuck() -> None:
    overflows: list[int] = []
    pool = TaskThreads(1, max_stuck=1, on_overflow=overflows.append)
    gates = [threading.Event(), threading.Event()]
    first = asyncio.ensure_future(pool.call(gates[0].wait, 5))
    await asyncio.sleep(0.05)
    first.cancel()  # like max_time while the function runs: the thread is written off
    with pytest.raises(asyncio.CancelledError):
        await first
    assert pool.stuck == 1
    # a replacement serves the next calls at once
    assert await asyncio.wait_for(pool.call(lambda: "replaced"), 2) == "replaced"
    second = asyncio.ensure_future(pool.call(gates[1].wait, 5))
    await asyncio.sleep(0.05)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert pool.stuck == 2 and overflows == [2]  # one more than max_stuck
    for gate in gates:
        gate.set()
    await asyncio.sleep(0.1)
    assert pool.stuck == 0
    assert await pool.call(lambda: "after") == "after"
    assert len(pool._threads) == 1  # the replaced thread left when its function returned
    pool.shutdown(wait=True)


async def test_max_stuck_zero_keeps_the_written_off_thread_in_its_place() -> None:
    pool = TaskThreads(1)  # max_stuck=0
    gate = threading.Event()
    first = asyncio.ensure_future(pool.call(gate.wait, 5))
    await asyncio.sleep(0.05)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    waiting = asyncio.ensure_future(pool.call(lambda: "later"))
    await asyncio.sleep(0.2)
    assert not waiting.done() and len(pool._threads) == 1
    gate.set()
    assert await asyncio.wait_for(waiting, 2) == "later"
    pool.shutdown(wait=True)
