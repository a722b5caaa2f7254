"""Routers, @shared_task and the global state (`qtasks._state`)."""

from __future__ import annotations

from typing import Any

import pytest

import qtasks
from qtasks import AsyncRouter, SyncRouter, _state, shared_task
from qtasks.exc import AppNotFoundError
from qtasks.registries.registry import TaskRegistry
from qtasks.registries.task import AsyncTask, SyncTask
from qtasks.utils import get_app
from qtasks.utils import shared_task as shared_task_utils

pytestmark = pytest.mark.anyio

LIMIT = 10.0


def _router(h: Any) -> Any:
    return AsyncRouter() if h.is_async else SyncRouter()


def _task_class(h: Any) -> type[Any]:
    return AsyncTask if h.is_async else SyncTask


# --- routers -------------------------------------------------------------------------------


async def test_router_bare_and_called_decorators(h: Any) -> None:
    router = _router(h)

    @router.task
    def bare(x: int) -> int:
        return x + 1

    @router.task("called", priority=3, tags=["r"], description="d", team="ops")
    async def called_func(x: int) -> int:
        return x + 2

    @router.task()
    def empty_parens() -> None:
        return None

    assert set(router.tasks) == {"bare", "called", "empty_parens"}
    assert type(bare) is _task_class(h) and type(called_func) is _task_class(h)
    assert bare.task_name == "bare" and bare.priority == 0  # routers default to 0
    assert called_func.task_name == "called" and called_func.priority == 3
    assert called_func.tags == ["r"] and called_func.description == "d"
    assert called_func.extra == {"team": "ops"}
    with pytest.raises(ValueError, match="bare"):
        router.task("bare")(lambda: None)


async def test_include_router_binds_tasks_to_that_app(h: Any) -> None:
    router = _router(h)

    @router.task
    def routed(x: int) -> str:
        return f"routed {x}"

    @router.task(priority=1)
    async def routed_async(x: int) -> str:
        return f"async {x}"

    app = h.app(task_default_priority=5)
    other = h.app(h.name("other"))  # created later: it is app_main now
    assert _state.app_main is other
    app.include_router(router)
    assert router in app.routers
    assert {"routed", "routed_async"} <= set(app.tasks)
    assert routed.app is app and routed_async.app is app
    assert routed.priority == 0  # router tasks keep their own priority
    async with h.serving(app):
        done = await h.call(routed.add_task, 7, timeout=LIMIT)
        done_async = await h.call(routed_async.add_task, 8, timeout=LIMIT)
        by_name = await h.call(app.add_task, "routed", 9, timeout=LIMIT)
    assert done.status == "success" and done.returning == "routed 7"
    assert done_async.returning == "async 8" and done_async.priority == 1
    assert by_name.returning == "routed 9"
    # the bound app got it, not app_main
    assert await h.call(app.get, done.uuid) is not None
    assert await h.call(other.get, done.uuid) is None


async def test_router_task_before_include_uses_app_main(h: Any) -> None:
    router = _router(h)

    @router.task
    def loose() -> str:
        return "loose"

    main = h.app()
    assert _state.app_main is main
    queued = await h.call(loose.add_task)
    assert queued.status == "new"
    assert (await h.call(main.get, queued.uuid)).task_name == "loose"


async def test_include_router_refuses_to_overwrite_a_task(h: Any) -> None:
    router = _router(h)

    @router.task("clash")
    def from_router() -> int:
        return 1

    app = h.app()

    @app.task("clash")
    def from_app() -> int:
        return 2

    with pytest.raises(ValueError, match="clash"):
        app.include_router(router)
    assert app.tasks["clash"].func is from_app.func


async def test_router_plugins_move_to_the_app(h: Any) -> None:
    from qtasks.plugins.base import BasePlugin

    router = _router(h)
    plugin = BasePlugin("router-plugin")
    router.add_plugin(plugin, ["task_executor_before_execute"])
    app = h.app()
    app.include_router(router)
    assert plugin in app.plugins["task_executor_before_execute"]


# --- shared tasks --------------------------------------------------------------------------


async def test_shared_task_bare_called_and_awaiting(h: Any) -> None:
    assert shared_task is shared_task_utils is qtasks.shared_task

    @shared_task
    def shared_bare(x: int) -> int:
        return x * 2

    @shared_task("shared_named", priority=4, tags=["s"], owner="me")
    def shared_called(x: int) -> int:
        return x * 3

    @shared_task(awaiting=True)
    def shared_awaiting(x: int) -> int:
        return x * 4

    @shared_task(awaiting=False)
    async def shared_not_awaiting(x: int) -> int:
        return x * 5

    assert type(shared_bare) is SyncTask and shared_bare.priority == 0
    assert type(shared_called) is SyncTask
    assert shared_called.task_name == "shared_named" and shared_called.priority == 4
    assert shared_called.tags == ["s"] and shared_called.extra == {"owner": "me"}
    assert type(shared_awaiting) is AsyncTask
    assert type(shared_not_awaiting) is SyncTask
    for name in ("shared_bare", "shared_named", "shared_awaiting", "shared_not_awaiting"):
        assert TaskRegistry.get_task(name) is not None
    assert "shared_named" in TaskRegistry.all_tasks()


async def test_shared_tasks_run_on_app_main_whenever_imported(h: Any) -> None:
    @shared_task(awaiting=h.is_async)
    def defined_before(x: int) -> str:
        return f"before {x}"

    app = h.app()

    @shared_task(name="defined_after", awaiting=h.is_async)
    async def defined_after_func(x: int) -> str:
        return f"after {x}"

    assert "defined_before" in app.tasks  # shared tasks are every app's (as in QTasks)
    async with h.serving(app):
        one = await h.call(defined_before.add_task, 1, timeout=LIMIT)
        two = await h.call(defined_after_func.add_task, 2, timeout=LIMIT)
        three = await h.call(app.add_task, "defined_after", 3, timeout=LIMIT)
    assert one.status == "success" and one.returning == "before 1"
    assert two.status == "success" and two.returning == "after 2"
    assert three.returning == "after 3"
    assert (await h.call(app.get, one.uuid)) is not None


async def test_shared_task_without_any_app_is_a_clear_error(
    h: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    @shared_task(awaiting=h.is_async)
    def orphan() -> None:
        return None

    monkeypatch.setattr(_state, "app_main", None)
    assert get_app() is None
    with pytest.raises(AppNotFoundError, match="QueueTasks"):
        await h.call(orphan.add_task)
    with pytest.raises(ImportError):  # the original raised ImportError; still catchable so
        await h.call(orphan(1).add_task)
    router = _router(h)

    @router.task
    def unattached() -> None:
        return None

    with pytest.raises(AppNotFoundError):
        await h.call(unattached.add_task)


async def test_shared_task_duplicate_name_is_an_error(h: Any) -> None:
    @shared_task(name="dup_shared")
    def one() -> int:
        return 1

    with pytest.raises(ValueError, match="dup_shared"):

        @shared_task(name="dup_shared")
        def two() -> int:
            return 2


# --- global state ----------------------------------------------------------------------------


async def test_set_state_stores_app_and_logger(h: Any) -> None:
    first = h.app(h.name("first"))
    assert _state.app_main is first and get_app() is first
    assert _state.logger_main is first.log
    assert _state.log_main is _state.logger_main
    second = h.app(h.name("second"))
    assert _state.app_main is second and _state.logger_main is second.log
    assert _state.log_main is second.log
    first._set_state()
    assert _state.app_main is first and _state.log_main is first.log


async def test_explicit_app_wins_over_app_main(h: Any) -> None:
    mine = h.app(h.name("mine"))

    @mine.task(name="same")
    def mine_same() -> str:
        return "mine"

    router = _router(h)

    @router.task
    def via_router() -> str:
        return "router-mine"

    mine.include_router(router)
    theirs = h.app(h.name("theirs"))  # becomes app_main

    @theirs.task(name="same")
    def theirs_same() -> str:
        return "theirs"

    @theirs.task(name="via_router")
    def theirs_router() -> str:
        return "router-theirs"

    assert _state.app_main is theirs
    assert mine_same.app is mine and via_router.app is mine
    async with h.serving(mine, theirs):
        a = await h.call(mine_same.add_task, timeout=LIMIT)
        b = await h.call(via_router.add_task, timeout=LIMIT)
        c = await h.call(theirs_same.add_task, timeout=LIMIT)
    assert a.returning == "mine" and b.returning == "router-mine"
    assert c.returning == "theirs"
    assert await h.call(theirs.get, a.uuid) is None
    assert await h.call(theirs.get, b.uuid) is None
    assert await h.call(mine.get, c.uuid) is None
