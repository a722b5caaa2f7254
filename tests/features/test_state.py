"""State: shared per state class by the tasks of one app in one worker process, through
both apps on memory:// and sqlite:///, from sync and async task functions."""

import asyncio
import threading
from typing import Annotated, Any

import pytest

import qtasks
import qtasks.asyncio
from qtasks.core.models import TaskSpec as TaskExecSchema
from qtasks.plugins import AsyncState, AsyncStatePlugin, SyncState, SyncStatePlugin
from qtasks.plugins.states import StatePlugin, registry_for

pytestmark = pytest.mark.anyio

LIMIT = 10.0


class Dialog(AsyncState):
    pass


class Progress(SyncState):
    pass


class Other(SyncState):
    pass


async def test_reference_scenario_step1_then_step2(env: Any) -> None:
    app = env.app()

    @app.task
    async def step1(state: Dialog) -> str:
        await state.set("state", "await_phone")
        await state.update(step=1, prompt="Enter phone number")
        return "ok"

    @app.task
    async def step2(state: Dialog) -> Any:
        seen = await state.get_all()
        if await state.get("state") != "await_phone":
            return "error"
        after = await state.update(step=2)
        await state.delete("state")
        left = await state.get()
        await state.clear()
        return [seen, after, left, await state.get_all()]

    async with env.serve(app):
        assert (await env.call(step1.add_task, timeout=LIMIT)).returning == "ok"
        result = await env.call(step2.add_task, timeout=LIMIT)
    seen, after, left, cleared = result.returning
    assert seen == {"state": "await_phone", "step": 1, "prompt": "Enter phone number"}
    assert after == {"state": "await_phone", "step": 2, "prompt": "Enter phone number"}
    assert left == {"step": 2, "prompt": "Enter phone number"}
    assert cleared == {}


async def test_sync_and_async_functions_share_one_state_per_class(env: Any) -> None:
    app = env.app()

    @app.task
    def sync_write(progress: Progress, key: str, value: int) -> dict[str, Any]:
        return progress.update(**{key: value})

    @app.task
    async def async_read(progress: Annotated[Progress, "meta"], key: str) -> Any:
        return progress.get(key, "missing")  # a SyncState works in async functions too

    @app.task
    def other_class(other: Other) -> dict[str, Any]:
        return other.get_all()

    async with env.serve(app):
        assert (await env.call(sync_write.add_task, "a", 1, timeout=LIMIT)).returning == {"a": 1}
        assert (await env.call(sync_write.add_task, "b", 2, timeout=LIMIT)).returning == {
            "a": 1,
            "b": 2,
        }
        assert (await env.call(async_read.add_task, "b", timeout=LIMIT)).returning == 2
        assert (await env.call(async_read.add_task, "zz", timeout=LIMIT)).returning == "missing"
        assert (await env.call(other_class.add_task, timeout=LIMIT)).returning == {}
    # the state belongs to the app in this process: a new worker of the same app sees it
    async with env.serve(app):
        assert (await env.call(async_read.add_task, "a", timeout=LIMIT)).returning == 1


async def test_concurrent_updates_from_threads_and_the_loop_are_not_lost(env: Any) -> None:
    app = env.app()

    @app.task
    def sync_put(progress: Progress, i: int) -> None:
        progress.set(f"s{i}", i)

    @app.task
    async def async_put(dialog: Dialog, progress: Progress, i: int) -> None:
        await dialog.update(**{f"a{i}": i})
        progress.update(**{f"a{i}": i})

    @app.task
    async def count(dialog: Dialog, progress: Progress) -> list[int]:
        return [len(await dialog.get_all()), len(progress.get_all())]

    async with env.serve(app):
        pending = []
        for i in range(20):
            pending.append(await env.call(sync_put.add_task, i))
            pending.append(await env.call(async_put.add_task, i))
        for task in pending:
            assert (await env.call(app.wait, task.uuid, LIMIT)).status == "success"
        assert (await env.call(count.add_task, timeout=LIMIT)).returning == [20, 40]


async def test_two_apps_in_one_process_have_separate_state(env: Any) -> None:
    one, two = env.app("one"), env.app("two")
    tasks = {}
    for app in (one, two):

        @app.task(name="remember")
        def remember(progress: Progress, value: str) -> dict[str, Any]:
            return progress.update(last=value)

        tasks[app.name] = remember

    async with env.serve(one), env.serve(two):
        first = await env.call(tasks[one.name].add_task, "from one", timeout=LIMIT)
        second = await env.call(tasks[two.name].add_task, "from two", timeout=LIMIT)
    assert first.returning == {"last": "from one"}
    assert second.returning == {"last": "from two"}
    assert registry_for(one).instance(Progress).get_all() == {"last": "from one"}
    assert registry_for(two).instance(Progress).get_all() == {"last": "from two"}


# --- no worker ---------------------------------------------------------------------------
def test_sync_state_api_by_hand() -> None:
    state = Progress()
    assert state.get() == {} and state.get("k") is None and state.get("k", 0) == 0
    state.set("k", "v")
    assert state.update(step=1) == {"k": "v", "step": 1}
    snapshot = state.get_all()
    snapshot["mutated"] = True  # a copy: the state is unchanged
    assert state.get() == {"k": "v", "step": 1}
    state.delete("k")
    state.delete("not there")
    assert state.get_all() == {"step": 1}
    state.clear()
    assert state.get_all() == {}
    assert "Progress" in repr(state)


async def test_async_state_api_by_hand_and_from_threads() -> None:
    state = Dialog()
    assert await state.get() == {}
    await state.set("k", 1)

    def from_thread(i: int) -> None:
        asyncio.run(state.update(**{f"t{i}": i}))

    threads = [threading.Thread(target=from_thread, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(await state.get_all()) == 9
    await state.delete("k")
    assert await state.get("k", "gone") == "gone"
    await state.clear()
    assert await state.get_all() == {}


def test_plugin_names_and_selection() -> None:
    assert AsyncStatePlugin is SyncStatePlugin is StatePlugin

    def uses(progress: Progress) -> None:
        return None

    def annotated(progress: Annotated[Dialog, "x"]) -> None:
        return None

    def plain(progress: int) -> None:
        return None

    for func, expected in ((uses, True), (annotated, True), (plain, False)):
        schema = TaskExecSchema(priority=0, name="t", func=func)
        assert StatePlugin.applies(schema) is expected
    registry = registry_for(object.__new__(qtasks.QueueTasks))
    assert registry.instance(Progress) is registry.instance(Progress)
    assert registry.instance(Progress) is not registry.instance(Other)
