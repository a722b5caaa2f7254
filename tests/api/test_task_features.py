"""What a task can do while it runs, through both facades and every backend: echo and
context, generators, retries, time limits, cancel, result encoding."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest

from qtasks.exc import TaskCancelError

pytestmark = pytest.mark.anyio

LIMIT = 10.0


# --- echo and context ------------------------------------------------------------------------


async def test_echo_gives_the_task_and_a_working_context(h: Any) -> None:
    app = h.app(task_default_priority=0)
    seen: dict[str, Any] = {}

    @app.task
    def child(x: int) -> int:
        return x * 10

    @app.task(echo=True)
    def parent_sync(self: Any, x: int) -> int:
        seen["uuid"] = self.ctx.task_uuid
        seen["name"] = self.ctx.task_name
        seen["config"] = self.ctx.get_config()
        seen["meta"] = self.ctx.get_metadata()
        seen["backend"] = self.ctx.get_component("backend")
        self.ctx.get_logger().info("inside %s", self.ctx.task_name)
        return self.add_task(x, task_name="child", timeout=LIMIT).returning + 1

    @app.task(echo=True)
    async def parent_async(self: Any, x: int) -> int:
        meta = await self.ctx.get_metadata()
        seen["async_status"] = meta.status
        await self.ctx.sleep(0)
        child_task = await self.add_task(x, task_name="child", timeout=LIMIT)
        return child_task.returning + 2

    async with h.serving(app):
        done = await h.call(parent_sync.add_task, 4, timeout=LIMIT)
        assert done.status == "success" and done.returning == 41
        assert seen["uuid"] == str(done.uuid) and seen["name"] == "parent_sync"
        assert seen["config"] is app.config and seen["backend"] is app.backend
        assert seen["meta"].status == "process" and str(seen["meta"].uuid) == seen["uuid"]
        done = await h.call(parent_async.add_task, 5, timeout=LIMIT)
        assert done.status == "success" and done.returning == 52
        assert seen["async_status"] == "process"


async def test_ctx_of_a_non_echo_task_knows_its_uuid(h: Any) -> None:
    app = h.app()

    @app.task
    def plain() -> str | None:
        return plain.ctx.task_uuid

    @app.task
    async def plain_async() -> str | None:
        return plain_async.ctx.task_uuid

    async with h.serving(app):
        for task in (plain, plain_async):
            done = await h.call(task.add_task, timeout=LIMIT)
            assert done.returning == str(done.uuid)
    assert plain.ctx.task_uuid is None  # outside a run


# --- generators ------------------------------------------------------------------------------


async def test_generator_tasks_store_the_handled_items(h: Any) -> None:
    app = h.app()

    async def add_one(v: int) -> int:
        return v + 1

    @app.task(generate_handler=lambda v: v * 10)
    def gen_sync(n: int) -> Any:
        yield from range(n)

    @app.task(generate_handler=add_one)
    async def gen_async(n: int) -> Any:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    @app.task
    def gen_plain(n: int) -> Any:
        yield from ("a" * i for i in range(n))

    async with h.serving(app):
        assert (await h.call(gen_sync.add_task, 3, timeout=LIMIT)).returning == [0, 10, 20]
        assert (await h.call(gen_async.add_task, 3, timeout=LIMIT)).returning == [1, 2, 3]
        assert (await h.call(gen_plain.add_task, 3, timeout=LIMIT)).returning == ["", "a", "aa"]


# --- retries --------------------------------------------------------------------------------


async def test_retry_until_success_follows_the_chain(h: Any) -> None:
    app = h.app(retry_backoff=0.05, retry_jitter=0.0)
    calls: list[float] = []

    @app.task(retry=3, retry_on_exc=[LookupError])
    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise KeyError("not yet")  # a LookupError subclass: retried
        return "finally"

    async with h.serving(app):
        first = await h.call(flaky.add_task)
        done = await h.call(app.wait, first.uuid, LIMIT)
        assert done is not None and done.status == "success" and done.returning == "finally"
        assert len(calls) == 3
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        assert gaps[0] >= 0.04 and gaps[1] >= 0.09  # 0.05 then 0.1: exponential backoff
        original = await h.call(app.get, first.uuid)
        assert original.status == "retry" and original.retry == 3
        assert "KeyError" in original.traceback
        child = await h.call(app.get, original.retry_child_uuid)
        assert child.retry_parent_uuid == str(first.uuid) and child.retry == 2
        assert child.status == "retry"
        last = await h.call(app.get, child.retry_child_uuid)
        assert last.status == "success" and last.retry == 1


async def test_retries_exhausted_and_non_matching_errors(h: Any) -> None:
    app = h.app(retry_backoff=0.0)
    attempts = {"always": 0, "other": 0}

    @app.task(retry=2)
    async def always() -> None:
        attempts["always"] += 1
        raise RuntimeError("still broken")

    @app.task(retry=5, retry_on_exc=[KeyError])
    def other() -> None:
        attempts["other"] += 1
        raise ValueError("not retried")

    async with h.serving(app):
        done = await h.call(always.add_task, timeout=LIMIT)
        assert done.status == "error" and done.retry == 0 and attempts["always"] == 3
        assert "still broken" in done.traceback
        done = await h.call(other.add_task, timeout=LIMIT)
        assert done.status == "error" and attempts["other"] == 1 and done.retry is None


# --- time limits -----------------------------------------------------------------------------


async def test_max_time_ends_async_and_reports_sync_at_the_deadline(h: Any) -> None:
    app = h.app()
    release = threading.Event()

    @app.task(max_time=0.3)
    async def slow_async() -> None:
        await asyncio.sleep(30)

    @app.task(max_time=0.3)
    def slow_sync() -> None:
        release.wait(30)

    async with h.serving(app):
        for task in (slow_async, slow_sync):
            start = time.monotonic()
            done = await h.call(task.add_task, timeout=LIMIT)
            elapsed = time.monotonic() - start
            assert done.status == "error", task
            assert "TimeoutError: Time limit exceeded" in done.traceback
            assert elapsed < 2.0, f"{task} reported after {elapsed:.2f}s"
        release.set()


# --- cancel ---------------------------------------------------------------------------------


async def test_ctx_cancel_ends_as_cancel_with_reason(h: Any) -> None:
    app = h.app()

    @app.task(echo=True)
    def give_up(self: Any) -> None:
        self.ctx.cancel("not today")

    @app.task
    async def raise_cancel() -> None:
        raise TaskCancelError("explicit")

    async with h.serving(app):
        done = await h.call(give_up.add_task, timeout=LIMIT)
        assert done.status == "cancel" and done.cancel_reason == "not today"
        done = await h.call(raise_cancel.add_task, timeout=LIMIT)
        assert done.status == "cancel" and done.cancel_reason == "explicit"


async def test_app_cancel_queued_and_running(h: Any, helpers: Any) -> None:
    app = h.app()
    started = threading.Event()

    @app.task
    async def long_one() -> str:
        started.set()
        await asyncio.sleep(30)
        return "not cancelled"

    queued = await h.call(long_one.add_task)
    cancelled = await h.call(app.cancel, queued.uuid, "changed my mind")
    assert cancelled.status == "cancel" and cancelled.cancel_reason == "changed my mind"
    assert (await h.call(app.get, queued.uuid)).status == "cancel"

    async with h.serving(app):
        running = await h.call(long_one.add_task)
        await helpers.wait_thread_event(started)
        start = time.monotonic()
        answer = await h.call(app.cancel, running.uuid, "stop now")
        assert answer is not None and answer.status == "process"
        done = await h.call(app.wait, running.uuid, LIMIT)
        assert done.status == "cancel" and done.cancel_reason == "stop now"
        assert time.monotonic() - start < 2.0
    assert await h.call(app.cancel, running.uuid, "again") is None


# --- result encoding -------------------------------------------------------------------------


async def test_decode_per_task_and_default(h: Any) -> None:
    app = h.app()

    @app.task(decode=lambda value: f"<{value}>")
    def wrapped() -> int:
        return 7

    @app.task
    def as_set() -> set[int]:
        return {1, 2}

    @app.task(decode=lambda value: object())
    def broken() -> int:
        return 1

    async with h.serving(app):
        assert (await h.call(wrapped.add_task, timeout=LIMIT)).returning == "<7>"
        done = await h.call(as_set.add_task, timeout=LIMIT)
        assert done.status == "error" and "cannot be stored as JSON" in done.traceback
        done = await h.call(broken.add_task, timeout=LIMIT)
        assert done.status == "error" and "after decode=" in done.traceback
        assert (await h.call(app.get, done.uuid)).status == "error"  # get() still works
        app.config.task_default_decode = sorted
        assert (await h.call(as_set.add_task, timeout=LIMIT)).returning == [1, 2]
