"""Operating an app through both facades on every backend: listing and counting tasks,
live workers and what they run, retry, cancel by filter, purge by queue or status,
pausing a queue for its workers, and progress reported by a running task."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from qtasks.app.inspection import TaskList
from qtasks.exc import ConfigError

from .conftest import LIMIT, Harness, eventually, gate, wait_thread_event

pytestmark = pytest.mark.anyio


async def test_list_count_retry_and_purge(h: Harness) -> None:
    app = h.app()

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    @app.task
    def fail() -> None:
        raise ValueError("nope")

    async with h.serving(app):
        done = [await h.call(app.add_task, "add", i, 1, timeout=LIMIT) for i in range(3)]
        failed = await h.call(app.add_task, "fail", timeout=LIMIT)
    queued = await h.call(app.enqueue, "add", (5, 5), queue="later")
    assert failed.status == "error" and all(t.status == "success" for t in done)

    page = await h.call(app.list_tasks)
    assert isinstance(page, TaskList) and page.cursor is None
    assert [t.uuid for t in page] == [queued.uuid, failed.uuid, *[t.uuid for t in done][::-1]]
    first = await h.call(app.list_tasks, task_name="add", limit=2)
    rest = await h.call(app.list_tasks, task_name="add", limit=2, cursor=first.cursor)
    assert len(first) == 2 and len(rest) == 2 and rest.cursor is None
    errors = await h.call(app.list_tasks, status="error", since="1h")
    assert [(t.uuid, t.queue, t.attempts) for t in errors] == [(failed.uuid, "default", 1)]
    assert (await h.call(app.list_tasks, status="error", until=time.time() - 3600)).tasks == []
    assert await h.call(app.count_tasks) == {
        "default": {"success": 3, "error": 1},
        "later": {"new": 1},
    }

    copy = await h.call(app.retry, failed.uuid)
    assert copy.status == "new" and copy.uuid != failed.uuid
    assert copy.retry_of == str(failed.uuid)
    assert (await h.call(app.get, failed.uuid)).retried_as == str(copy.uuid)
    assert copy.task_name == "fail" and copy.queue == "default"
    with pytest.raises(ConfigError, match="finished"):
        await h.call(app.retry, queued.uuid)
    assert await h.call(app.retry, "00000000-0000-4000-8000-000000000000") is None

    assert await h.call(app.purge_tasks, status="success") == 3
    assert await h.call(app.purge_tasks, queue="later") == 1
    assert await h.call(app.count_tasks) == {"default": {"error": 1, "new": 1}}
    with pytest.raises(ConfigError, match="status"):
        await h.call(app.list_tasks, status="finished")
    with pytest.raises(ConfigError, match="since"):
        await h.call(app.list_tasks, since="yesterday")


async def test_cancel_a_filtered_set(h: Harness) -> None:
    app = h.app()
    for i in range(4):
        await h.call(app.enqueue, "resize", (i,), queue="images")
    await h.call(app.enqueue, "mail", (1,))
    assert await h.call(app.cancel_tasks, task_name="resize", reason="bad batch") == 4
    cancelled = await h.call(app.list_tasks, status="cancel")
    assert len(cancelled) == 4 and {t.cancel_reason for t in cancelled} == {"bad batch"}
    assert [t.task_name for t in await h.call(app.list_tasks, status="new")] == ["mail"]
    with pytest.raises(ConfigError, match="new or running"):
        await h.call(app.cancel_tasks, status="error")


async def test_workers_say_what_they_run_and_a_paused_queue_waits(h: Harness) -> None:
    app = h.app(lease_timeout=0.6)  # heartbeats (and what a worker runs) every 0.2 s
    release = threading.Event()
    ran: list[int] = []

    @app.task
    def hold(n: int) -> int:
        release.wait(LIMIT)
        ran.append(n)
        return n

    async with h.serving(app):
        held = await h.call(app.add_task, "hold", 1)

        async def running() -> bool:
            workers = await h.call(app.live_workers)
            return bool(workers) and [r["uuid"] for r in workers[0]["running"]] == [str(held.uuid)]

        await eventually(running, what="the worker to report the task it runs")
        (worker,) = await h.call(app.live_workers)
        assert worker["queue"] == "default" and worker["running"][0]["task_name"] == "hold"

        await h.call(app.pause_queue, "default")
        assert await h.call(app.paused_queues) == ["default"]
        await anyio.sleep(2.5)  # every worker reads the paused queues each second
        waiting = await h.call(app.add_task, "hold", 2)
        release.set()
        assert (await h.call(app.wait, held.uuid, LIMIT)).status == "success"
        await anyio.sleep(1.5)
        assert (await h.call(app.get, waiting.uuid)).status == "new"  # paused: not fetched
        await h.call(app.resume_queue, "default")
        assert (await h.call(app.wait, waiting.uuid, LIMIT)).status == "success"
    assert ran == [1, 2] and await h.call(app.paused_queues) == []


async def test_progress_is_stored_coalesced_and_seen_by_waiters(h: Harness) -> None:
    app = h.app()
    step = threading.Event()

    @app.task(echo=True)
    def pages(self: Any, n: int) -> int:
        for i in range(n):
            self.ctx.set_progress((i + 1) / n, f"page {i + 1}/{n}")
            time.sleep(0.15)
        step.wait(LIMIT)
        return n

    @app.task(echo=True)
    async def apages(self: Any, n: int) -> int:
        for i in range(n):
            await self.ctx.set_progress((i + 1) / n, f"page {i + 1}/{n}")
        await gate(step)
        return n

    async with h.serving(app):
        task = await h.call(app.add_task, "pages", 8)

        async def reported() -> bool:
            got = await h.call(app.get, task.uuid)
            return got.progress is not None and got.progress["value"] >= 0.5

        await eventually(reported, what="a stored progress report")
        got = await h.call(app.get, task.uuid)
        assert got.status == "process" and got.progress["message"].startswith("page ")
        rows = await h.call(app.list_tasks, status="process")
        assert rows.tasks[0].progress is not None
        step.set()
        seen: list[str] = []
        final = await h.call(
            app.wait, task.uuid, LIMIT, on_progress=lambda t: seen.append(t.progress["message"])
        )
        assert final.progress["value"] == 1.0 and final.progress["message"] == "page 8/8"
        other = await h.call(app.add_task, "apages", 50, timeout=LIMIT)
        # 50 reports in a burst: one write (the first); the final record has the last
        assert other.progress["message"] == "page 50/50"
    await wait_thread_event(step)


def test_progress_rejects_bad_values_and_outside_a_task() -> None:
    from qtasks.contexts import SyncContext

    ctx = SyncContext(task_name="x")
    with pytest.raises(ConfigError, match="0 to 1"):
        ctx.set_progress(1.5)
    with pytest.raises(ConfigError, match="running task"):
        ctx.set_progress(0.5)
