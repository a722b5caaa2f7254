"""`@shared_task` belongs to every app: listed in `app.tasks`, whenever it was defined."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from qtasks import AsyncRouter, SyncRouter, shared_task

pytestmark = pytest.mark.anyio

LIMIT = 10.0


async def test_a_shared_task_defined_before_the_app_is_in_its_tasks(
    h: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @shared_task(awaiting=h.is_async)
    def early(x: int) -> int:
        return x + 1

    app = h.app()

    @app.task
    def own(x: int) -> int:
        return x

    assert "early" in app.tasks and app.tasks["early"].func is early.func
    assert list(app.tasks) == ["own", "early"] and len(app.tasks) == 2
    assert dict(app.tasks) == app.tasks.copy() == {"own": app.tasks["own"], "early": early.schema}
    with caplog.at_level(logging.INFO):
        async with h.serving(app):
            done = await h.call(early.add_task, 1, timeout=LIMIT)
    assert done is not None and done.returning == 2
    [start] = [r.getMessage() for r in caplog.records if "Starting app" in r.getMessage()]
    assert "tasks=2" in start


async def test_a_shared_task_defined_after_the_app_is_seen_too(h: Any) -> None:
    app = h.app()
    assert "late" not in app.tasks

    @shared_task(awaiting=h.is_async)
    def late(x: int) -> int:
        return x * 10

    assert "late" in app.tasks and len(app.tasks) == 1
    async with h.serving(app):
        done = await h.call(app.add_task, "late", 4, timeout=LIMIT)
    assert done is not None and done.returning == 40


async def test_every_app_sees_the_shared_tasks(h: Any) -> None:
    @shared_task(awaiting=h.is_async)
    def common() -> str:
        return "common"

    one, two = h.app(h.name("one")), h.app(h.name("two"))
    assert "common" in one.tasks and "common" in two.tasks
    async with h.serving(one, two):
        for app in (one, two):
            done = await h.call(app.add_task, "common", timeout=LIMIT)
            assert done is not None and done.returning == "common"


async def test_an_apps_own_task_wins_over_a_shared_one(h: Any) -> None:
    @shared_task(name="greet", awaiting=h.is_async)
    def shared_greet() -> str:
        return "shared"

    mine, other = h.app(h.name("mine")), h.app(h.name("other"))

    @mine.task(name="greet")
    def own_greet() -> str:
        return "own"

    assert mine.tasks["greet"].func is own_greet.func
    assert other.tasks["greet"].func is shared_greet.func
    assert list(mine.tasks) == ["greet"]
    async with h.serving(mine, other):
        from_mine = await h.call(mine.add_task, "greet", timeout=LIMIT)
        from_other = await h.call(other.add_task, "greet", timeout=LIMIT)
    assert from_mine.returning == "own" and from_other.returning == "shared"


async def test_a_router_task_may_shadow_a_shared_one(h: Any) -> None:
    @shared_task(name="report")
    def shared_report() -> str:
        return "shared"

    router = AsyncRouter() if h.is_async else SyncRouter()

    @router.task(name="report")
    def routed_report() -> str:
        return "routed"

    app = h.app()
    app.include_router(router)
    assert app.tasks["report"].func is routed_report.func
    async with h.serving(app):
        done = await h.call(routed_report.add_task, timeout=LIMIT)
    assert done is not None and done.returning == "routed"
