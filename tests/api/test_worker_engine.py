"""The worker engine through both facades: sync/async functions, the loop never
blocks, concurrency bound, priority order, failures stored and survived."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from qtasks.exc import SerializationError

pytestmark = pytest.mark.anyio

LIMIT = 10.0


async def test_sync_async_and_generator_functions(h: Any) -> None:
    app = h.app()

    @app.task
    def sync_fn(a: int, b: int) -> dict[str, Any]:
        return {"sum": a + b, "thread": threading.current_thread().name}

    @app.task
    async def async_fn(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a * b

    @app.task(generate_handler=lambda item: item * 10)
    def sync_gen(n: int) -> Any:
        yield from range(n)

    @app.task
    async def async_gen(n: int) -> Any:
        for i in range(n):
            yield f"#{i}"

    @app.task(echo=True)
    async def echoed(self: Any, x: int) -> list[Any]:
        return [self.task_name, self.ctx.task_uuid, x]

    async with h.serving(app):
        s = await h.call(sync_fn.add_task, 2, 3, timeout=LIMIT)
        a = await h.call(async_fn.add_task, 2, 3, timeout=LIMIT)
        sg = await h.call(sync_gen.add_task, 3, timeout=LIMIT)
        ag = await h.call(async_gen.add_task, 2, timeout=LIMIT)
        e = await h.call(echoed.add_task, 5, timeout=LIMIT)
    assert s.status == "success" and s.returning["sum"] == 5
    assert s.returning["thread"].startswith("qtasks-task")  # sync code ran in the pool
    assert a.status == "success" and a.returning == 6
    assert sg.returning == [0, 10, 20]
    assert ag.returning == ["#0", "#1"]
    assert e.returning == ["echoed", str(e.uuid), 5]


async def test_blocking_sync_task_does_not_block_the_loop(h: Any, helpers: Any) -> None:
    """A sync task blocked in the OS (sleep, I/O) must not stop async tasks: here the
    sync task can only finish if an async task runs while it blocks."""
    app = h.app(max_tasks_process=4)
    async_done = threading.Event()
    sync_started = threading.Event()

    @app.task
    def blocking() -> str:
        sync_started.set()
        time.sleep(0.05)  # plain blocking sleep
        return "unblocked" if async_done.wait(5) else "loop was blocked"

    @app.task
    async def quick() -> str:
        async_done.set()
        return "quick"

    async with h.serving(app):
        slow = await h.call(blocking.add_task)
        await helpers.wait_thread_event(sync_started)
        t0 = time.monotonic()
        fast = await h.call(quick.add_task, timeout=LIMIT)
        fast_elapsed = time.monotonic() - t0
        done = await h.call(app.wait, slow.uuid, LIMIT)
    assert fast.status == "success" and fast_elapsed < 2.0
    assert done.returning == "unblocked"
    assert fast.updated_at <= done.updated_at


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_max_tasks_process_bounds_concurrency(h: Any, kind: str) -> None:
    limit = 3
    app = h.app(max_tasks_process=limit)
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def enter() -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])

    def leave() -> None:
        with lock:
            state["now"] -= 1

    if kind == "sync":

        @app.task(name="work")
        def work_sync(i: int) -> int:
            enter()
            time.sleep(0.03)
            leave()
            return i

    else:

        @app.task(name="work")
        async def work_async(i: int) -> int:
            enter()
            await asyncio.sleep(0.03)
            leave()
            return i

    queued = [await h.call(app.add_task, "work", i) for i in range(12)]
    async with h.serving(app):
        assert app.worker.concurrency == limit
        results = [await h.call(app.wait, t.uuid, LIMIT) for t in queued]
    assert [r.returning for r in results] == list(range(12))
    assert state["peak"] == limit  # reached the bound, never above it


async def test_concurrency_option_overrides_config(h: Any) -> None:
    app = h.app(max_tasks_process=10)
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    @app.task
    async def tracked() -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.02)
        with lock:
            state["now"] -= 1

    queued = [await h.call(tracked.add_task) for _ in range(6)]
    async with h.serving(app, concurrency=2):
        for t in queued:
            assert (await h.call(app.wait, t.uuid, LIMIT)).status == "success"
    assert state["peak"] == 2


async def test_priority_order_across_the_whole_queue(h: Any) -> None:
    app = h.app(max_tasks_process=1)
    order: list[str] = []

    @app.task
    def record(label: str) -> None:
        order.append(label)

    plan = [(5, "p5-a"), (1, "p1-a"), (3, "p3-a"), (1, "p1-b"), (0, "p0-a")]
    plan += [(5, "p5-b"), (3, "p3-b"), (0, "p0-b"), (1, "p1-c"), (-2, "neg")]
    queued = [await h.call(record.add_task, label, priority=p) for p, label in plan]
    async with h.serving(app):
        for t in queued:
            assert (await h.call(app.wait, t.uuid, LIMIT)).status == "success"
    expected = [label for _, label in sorted(plan, key=lambda pl: pl[0])]  # stable: FIFO
    assert order == expected


async def test_failures_are_stored_and_the_worker_keeps_going(h: Any) -> None:
    app = h.app()

    @app.task
    def returns_set() -> Any:
        return {1, 2, 3}

    @app.task
    def returns_object() -> Any:
        return object()

    @app.task
    async def raises() -> None:
        raise KeyError("missing-key-123")

    @app.task
    def raises_sync() -> None:
        def inner() -> None:
            raise ZeroDivisionError("deep failure")

        inner()

    @app.task
    def fine(x: int) -> int:
        return x

    async with h.serving(app):
        results = {
            "set": await h.call(returns_set.add_task, timeout=LIMIT),
            "object": await h.call(returns_object.add_task, timeout=LIMIT),
            "unknown": await h.call(app.add_task, "no_such_task", 1, timeout=LIMIT),
            "raises": await h.call(raises.add_task, timeout=LIMIT),
            "raises_sync": await h.call(raises_sync.add_task, timeout=LIMIT),
        }
        after = [await h.call(fine.add_task, i, timeout=LIMIT) for i in range(3)]
        assert app.worker.executed == 8
    for key, task in results.items():
        assert task is not None, key
        assert task.status == "error", (key, task)
        assert task.returning is None
        assert isinstance(task.traceback, str) and task.traceback.startswith("Traceback"), key
    assert "SerializationError" in results["set"].traceback
    assert "set" in results["set"].traceback and "returns_set" in results["set"].traceback
    assert "SerializationError" in results["object"].traceback
    assert "no_such_task" in results["unknown"].traceback
    assert "not registered" in results["unknown"].traceback
    assert "KeyError" in results["raises"].traceback
    assert "missing-key-123" in results["raises"].traceback
    assert "ZeroDivisionError: deep failure" in results["raises_sync"].traceback
    assert "in inner" in results["raises_sync"].traceback
    assert [t.returning for t in after] == [0, 1, 2]
    # the stored records agree
    stored = await h.call(app.get, results["raises"].uuid)
    assert stored.status == "error" and stored.traceback == results["raises"].traceback


async def test_unserialisable_arguments_fail_at_the_call_and_store_nothing(h: Any) -> None:
    app = h.app()

    @app.task
    def takes(x: Any) -> Any:
        return x

    with pytest.raises(SerializationError, match="args"):
        await h.call(takes.add_task, object())
    with pytest.raises(SerializationError, match="kwargs"):
        await h.call(takes.add_task, x={1, 2})
    async with h.serving(app):
        ok = await h.call(takes.add_task, [1, "a", None, {"n": 1.5}], timeout=LIMIT)
    assert ok.returning == [1, "a", None, {"n": 1.5}]
    assert app.worker.executed == 1  # nothing else had been queued


async def test_max_time_turns_a_slow_task_into_an_error(h: Any) -> None:
    app = h.app()
    release = threading.Event()

    @app.task(max_time=0.2)
    async def slow_async() -> str:
        await asyncio.sleep(5)
        return "never"

    @app.task(max_time=0.2)
    def slow_sync() -> str:
        release.wait(5)
        return "never"

    try:
        async with h.serving(app):
            t0 = time.monotonic()
            a = await h.call(slow_async.add_task, timeout=LIMIT)
            s = await h.call(slow_sync.add_task, timeout=LIMIT)
            elapsed = time.monotonic() - t0
            release.set()
    finally:
        release.set()
    for task in (a, s):
        assert task.status == "error"
        assert "Time limit exceeded" in task.traceback and "0.2 seconds" in task.traceback
    assert elapsed < 3.0  # reported at the limit, not when the function returns
