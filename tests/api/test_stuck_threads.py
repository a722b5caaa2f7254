"""Sync task bodies that outlive their task (max_time, cancel): started means started,
written-off threads are replaced, too many of them recycle the worker; and the warning
for an async task that blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from qtasks.exc import WorkerRecycledError

pytestmark = pytest.mark.anyio

LIMIT = 10.0


async def _status(h: Any, app: Any, uuid: Any) -> str | None:
    record = await h.call(app.get, uuid)
    return None if record is None else str(record.status)


async def test_a_task_cancelled_while_it_waits_for_a_thread_never_runs(
    h: Any, helpers: Any
) -> None:
    """One thread, held by a sync body past its time limit (never replaced: 0); the next
    task waits for that thread, is cancelled meanwhile, and its body never runs, not even
    once the thread is free again."""
    app = h.app(max_tasks_process=1, max_stuck_threads=0)
    release = threading.Event()
    ran: list[str] = []

    @app.task(max_time=0.2)
    def stuck() -> None:
        release.wait(LIMIT)

    @app.task
    def behind(tag: str) -> None:
        ran.append(tag)

    try:
        async with h.serving(app):
            first = await h.call(stuck.add_task, timeout=LIMIT)
            assert first.status == "error" and "Time limit exceeded" in first.traceback
            queued = await h.call(behind.add_task, "cancelled")

            async def fetched() -> bool:
                return await _status(h, app, queued.uuid) == "process"

            await helpers.eventually(fetched, what="the task to be fetched")
            await asyncio.sleep(0.1)  # handed to the pool, behind the busy thread
            await h.call(app.cancel, queued.uuid, "not needed any more")
            done = await h.call(app.wait, queued.uuid, LIMIT)
            assert done.status == "cancel" and done.cancel_reason == "not needed any more"
            release.set()  # the thread is free: the next call it takes is the next task
            assert (await h.call(behind.add_task, "next", timeout=LIMIT)).status == "success"
    finally:
        release.set()
    assert ran == ["next"]


async def test_max_time_of_a_sync_body_counts_from_its_start(h: Any) -> None:
    """A task whose attempts would wait behind a stuck thread longer than its max_time is
    not timed out (nor retried) before it ran: it runs once the thread is free."""
    app = h.app(max_tasks_process=1, max_stuck_threads=0)
    release = threading.Event()
    ran: list[float] = []

    @app.task(max_time=0.2)
    def stuck() -> None:
        release.wait(LIMIT)

    @app.task(max_time=0.5, retry=1, retry_backoff=0)
    def patient() -> str:
        ran.append(time.monotonic())
        return "ran"

    try:
        async with h.serving(app):
            assert (await h.call(stuck.add_task, timeout=LIMIT)).status == "error"
            task = await h.call(patient.add_task)
            await asyncio.sleep(1.5)  # three of its time limits, waiting for the thread
            assert ran == []
            released = time.monotonic()
            release.set()
            done = await h.call(app.wait, task.uuid, LIMIT)
    finally:
        release.set()
    assert done.status == "success" and done.returning == "ran", done.traceback
    assert len(ran) == 1 and ran[0] >= released


async def test_a_stuck_thread_does_not_hold_a_slot(h: Any) -> None:
    """max_tasks_process=1: a sync body still running after its time limit gets a
    replacement thread, so the next task runs at once."""
    app = h.app(max_tasks_process=1)
    release = threading.Event()

    @app.task(max_time=0.2)
    def stuck() -> None:
        release.wait(LIMIT)

    @app.task
    def quick() -> str:
        return threading.current_thread().name

    try:
        async with h.serving(app):
            assert (await h.call(stuck.add_task, timeout=LIMIT)).status == "error"
            start = time.monotonic()
            done = await h.call(quick.add_task, timeout=LIMIT)
            elapsed = time.monotonic() - start
            assert not release.is_set()  # the first thread is still blocked
    finally:
        release.set()
    assert done.status == "success" and done.returning.startswith("qtasks-task")
    assert elapsed < 3.0


async def test_more_stuck_threads_than_allowed_recycle_the_worker(h: Any, caplog: Any) -> None:
    """max_stuck_threads=1: the second stuck thread makes the worker stop fetching and
    stop; leaving `serve()` raises WorkerRecycledError; queued work stays queued."""
    app = h.app(max_tasks_process=1, max_stuck_threads=1)
    release = threading.Event()

    @app.task(max_time=0.2)
    def stuck() -> None:
        release.wait(LIMIT)

    @app.task
    def later() -> str:
        return "ran"

    caplog.set_level(logging.WARNING)
    try:
        with pytest.raises(WorkerRecycledError, match="max_stuck_threads=1") as raised:
            async with h.serving(app):
                for _ in range(2):
                    assert (await h.call(stuck.add_task, timeout=LIMIT)).status == "error"
                waiting = await h.call(later.add_task)
                await asyncio.sleep(0.5)
                assert await _status(h, app, waiting.uuid) == "new"  # not fetched any more
    finally:
        release.set()
    assert raised.value.exit_code == 75
    assert any("Recycling this worker" in r.getMessage() for r in caplog.records)
    assert await _status(h, app, waiting.uuid) == "new"


async def test_an_async_task_blocking_the_loop_is_named_once(h: Any, caplog: Any) -> None:
    app = h.app(loop_block_warning=0.3)

    @app.task
    async def blocker() -> str:
        time.sleep(1.5)  # blocks the event loop: the mistake the warning points at
        return "done"

    caplog.set_level(logging.INFO)
    async with h.serving(app):
        done = await h.call(blocker.add_task, timeout=LIMIT)
        await asyncio.sleep(0.3)  # the watch sees the loop run again
    assert done.status == "success"
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "blocked the event loop" in r.getMessage()
    ]
    assert len(warnings) == 1, warnings  # once for the whole block, not once per check
    assert f"Task blocker ({done.uuid})" in warnings[0]
    assert any("ran again after" in r.getMessage() for r in caplog.records)


async def test_the_loop_watch_can_be_turned_off(h: Any, caplog: Any) -> None:
    app = h.app(loop_block_warning=0)

    @app.task
    async def blocker() -> None:
        time.sleep(0.6)

    caplog.set_level(logging.WARNING)
    async with h.serving(app):
        assert (await h.call(blocker.add_task, timeout=LIMIT)).status == "success"
    assert not any("blocked the event loop" in r.getMessage() for r in caplog.records)


async def test_a_bodys_own_timeout_error_is_not_the_time_limit(h: Any) -> None:
    app = h.app()

    @app.task(max_time=5)
    async def own_timeout() -> None:
        raise TimeoutError("the remote service did not answer")

    async with h.serving(app):
        done = await h.call(own_timeout.add_task, timeout=LIMIT)
    assert done.status == "error"
    assert "the remote service did not answer" in done.traceback
    assert "Time limit exceeded" not in done.traceback


async def test_a_task_released_on_shutdown_before_it_started_never_runs_here(h: Any) -> None:
    """Stopping while a task still waits for a thread: it goes back to the queue, and
    this worker does not run it once the thread is free."""
    app = h.app(max_tasks_process=1, max_stuck_threads=0, shutdown_grace=0.2)
    release = threading.Event()
    ran: list[str] = []

    @app.task(max_time=0.2)
    def stuck() -> None:
        release.wait(LIMIT)

    @app.task
    def behind() -> None:
        ran.append("behind")

    try:
        async with h.serving(app):
            assert (await h.call(stuck.add_task, timeout=LIMIT)).status == "error"
            queued = await h.call(behind.add_task)
            deadline = time.monotonic() + LIMIT
            while await _status(h, app, queued.uuid) != "process":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # handed to the pool, behind the busy thread
        release.set()  # the worker stopped: its thread is free now
        await asyncio.sleep(0.3)
    finally:
        release.set()
    assert await _status(h, app, queued.uuid) == "new"  # released, for another worker
    assert ran == []
