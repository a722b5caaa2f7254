"""`enqueue` (every option, no reserved keyword names), delayed tasks, queues, and the
batch API `add_tasks`, through both facades and every backend."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.anyio

LIMIT = 10.0


async def test_enqueue_keeps_every_keyword_for_the_task(h: Any) -> None:
    app = h.app()

    @app.task
    def takes_reserved(priority: int, timeout: float, task_name: str, delay: int) -> list[Any]:
        return [priority, timeout, task_name, delay]

    async with h.serving(app):
        kwargs = {"priority": 1, "timeout": 2.5, "task_name": "mine", "delay": 4}
        done = await h.call(app.enqueue, "takes_reserved", kwargs=kwargs, priority=3, timeout=LIMIT)
        assert done.status == "success" and done.returning == [1, 2.5, "mine", 4]
        assert done.priority == 3
        done = await h.call(takes_reserved.enqueue, kwargs=kwargs, timeout=LIMIT)
        assert done.returning == [1, 2.5, "mine", 4]


async def test_delayed_tasks_wait_for_their_time(h: Any) -> None:
    app = h.app()

    @app.task
    def stamp() -> float:
        return time.time()

    async with h.serving(app):
        start = time.time()
        later = await h.call(app.enqueue, "stamp", delay=0.5)
        at = await h.call(stamp.enqueue, eta=datetime.now() + timedelta(seconds=0.3))
        now = await h.call(stamp.add_task, timeout=LIMIT)
        assert now.returning - start < 0.3
        done_at = await h.call(app.wait, at.uuid, LIMIT)
        done_later = await h.call(app.wait, later.uuid, LIMIT)
        assert done_at.returning - start >= 0.29
        assert done_later.returning - start >= 0.49
    with pytest.raises(ValueError):
        await h.call(app.enqueue, "stamp", delay=1, eta=time.time())
    with pytest.raises(ValueError):
        await h.call(app.enqueue, "stamp", delay=-1)


async def test_queues_route_tasks_to_their_workers(h: Any) -> None:
    app = h.app()

    @app.task(queue="emails")
    def send() -> str:
        return "sent"

    @app.task
    def normal() -> str:
        return "ok"

    async with h.serving(app):  # default queue only
        assert (await h.call(normal.add_task, timeout=LIMIT)).returning == "ok"
        assert await h.call(send.add_task, timeout=0.3) is None
    async with h.serving(app, queues=["emails"]):
        pending = await h.call(send.add_task)
        assert (await h.call(app.wait, pending.uuid, LIMIT)).returning == "sent"
        routed = await h.call(app.enqueue, "normal", queue="emails", timeout=LIMIT)
        assert routed.returning == "ok"


async def test_add_tasks_batch(h: Any) -> None:
    app = h.app()

    @app.task(priority=2)
    def add(a: int, b: int) -> int:
        return a + b

    calls = [add(i, i) for i in range(50)] + [("add", (1, 2)), ("add", (), {"a": 3, "b": 4})]
    tasks = await h.call(app.add_tasks, calls)
    assert [t.status for t in tasks] == ["new"] * 52
    assert tasks[0].priority == 2 and len({t.uuid for t in tasks}) == 52
    async with h.serving(app):
        results = [await h.call(app.wait, t.uuid, LIMIT) for t in tasks]
    assert [r.returning for r in results] == [2 * i for i in range(50)] + [3, 7]
    assert await h.call(app.add_tasks, []) == []
    with pytest.raises(TypeError, match="pre-built calls"):
        await h.call(app.add_tasks, [42])
