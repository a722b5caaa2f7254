"""The public testing API: `qtasks.tests.SyncTestCase` / `AsyncTestCase` and
`qtasks.schemas.test.TestConfig`."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest

from qtasks.backends.memory import MemoryBackend
from qtasks.plugins.base import BasePlugin
from qtasks.schemas import TestConfig as TestConfigReexport
from qtasks.schemas.test import TestConfig
from qtasks.tests import AsyncTestCase, BaseTestCase, SyncTestCase

pytestmark = pytest.mark.anyio

LIMIT = 10.0


def _case(h: Any, app: Any) -> Any:
    return AsyncTestCase(app) if h.is_async else SyncTestCase(app)


def _flags(tc: TestConfig) -> dict[str, bool]:
    return dataclasses.asdict(tc)


def test_test_config_presets() -> None:
    assert TestConfigReexport is TestConfig
    assert _flags(TestConfig()) == dict.fromkeys(
        ("worker", "broker", "storage", "global_config", "plugins"), False
    )
    assert all(_flags(TestConfig.full()).values())
    assert _flags(TestConfig.only_worker()) == {
        "worker": True,
        "broker": False,
        "storage": False,
        "global_config": False,
        "plugins": False,
    }
    assert TestConfig.only_worker(plugins=True).plugins is True
    assert _flags(TestConfig.only_broker()) == {
        "worker": False,
        "broker": True,
        "storage": False,
        "global_config": False,
        "plugins": False,
    }
    assert TestConfig.only_broker(plugins=True).plugins is True
    assert _flags(TestConfig.full_broker()) == {
        "worker": False,
        "broker": True,
        "storage": True,
        "global_config": True,
        "plugins": True,
    }
    assert TestConfig.__test__ is False and BaseTestCase.__test__ is False


@pytest.mark.parametrize("facade", ["sync", "async"])
async def test_disabled_broker_runs_tasks_in_memory_without_any_server(
    facade: str, tmp_path: Any
) -> None:
    """only_worker(): the app's real backend is never touched; tasks still run."""
    import qtasks
    import qtasks.asyncio

    db = tmp_path / "never-created.db"
    if facade == "async":
        app = qtasks.asyncio.QueueTasks("tc-mem-async", broker_url=f"sqlite:///{db}")
        case: Any = AsyncTestCase(app, name="mine")
    else:
        app = qtasks.QueueTasks("tc-mem-sync", broker_url=f"sqlite:///{db}")
        case = SyncTestCase(app, name="mine")
    assert case.name == "mine" and case.app is app and case.config is app.config

    @app.task
    def triple(x: int) -> int:
        return 3 * x

    original = app.backend
    case.settings(TestConfig.only_worker())
    assert isinstance(app.backend, MemoryBackend)
    case.start_in_background()
    try:
        if facade == "async":
            done = await case.add_task("triple", 5, timeout=LIMIT)
            queued = await case.add_task("triple", 6)
            again = await app.wait(queued.uuid, LIMIT)
            got = await case.get(done.uuid)
        else:
            done = case.add_task("triple", 5, timeout=LIMIT)
            queued = case.add_task("triple", 6)
            again = app.wait(queued.uuid, LIMIT)
            got = case.get(done.uuid)
    finally:
        if facade == "async":
            await case.stop()
        else:
            case.stop()
    assert done.status == "success" and done.returning == 15
    assert again.returning == 18
    assert got.returning == 15
    assert not db.exists()  # the real (SQLite) backend was never opened
    case.restore()
    assert app.backend is original


async def test_full_keeps_the_real_backend(h: Any) -> None:
    app = h.app()
    plugin = BasePlugin("kept")
    app.add_plugin(plugin)

    @app.task
    def inc(x: int) -> int:
        return x + 1

    original = app.backend
    case = _case(h, app)
    case.settings(TestConfig.full())
    assert app.backend is original and plugin in app.plugins["Globals"]
    case.start_in_background()
    try:
        done = await h.call(case.add_task, "inc", 1, timeout=LIMIT)
        got = await h.call(case.get, done.uuid)
    finally:
        await h.call(case.stop)
    assert done.returning == 2 and got.returning == 2
    # it went through the real backend: a separate app on the same URL sees it
    twin = h.app(app.name)
    assert (await h.call(twin.get, done.uuid)).returning == 2


async def test_only_broker_queues_but_runs_nothing(h: Any) -> None:
    app = h.app()
    app.add_plugin(BasePlugin("dropped"))

    @app.task
    def never() -> None:
        return None

    original = app.backend
    case = _case(h, app)
    case.settings(TestConfig.only_broker())
    assert app.backend is original
    assert app.plugins == {}  # plugins=False removes them
    case.start_in_background()  # the worker is disabled: nothing starts
    assert await h.call(app.ping) is False
    queued = await h.call(case.add_task, "never")
    assert queued.status == "new"
    assert (await h.call(case.get, queued.uuid)).status == "new"
    await h.call(case.stop)


async def test_full_broker_keeps_backend_and_plugins_but_no_worker(h: Any) -> None:
    app = h.app()
    plugin = BasePlugin("kept")
    app.add_plugin(plugin, component="worker")
    original = app.backend
    case = _case(h, app)
    case.settings(TestConfig.full_broker())
    assert app.backend is original
    assert plugin in app._component_plugins["worker"]["Globals"]
    case.start_in_background()
    assert await h.call(app.ping) is False
    queued = await h.call(case.add_task, "anything", 1)
    assert (await h.call(case.get, queued.uuid)).status == "new"


async def test_all_disabled_is_memory_with_no_worker(h: Any) -> None:
    app = h.app()
    case = _case(h, app)
    case.settings(TestConfig())
    assert isinstance(app.backend, MemoryBackend)
    case.start_in_background()
    assert await h.call(app.ping) is False
    queued = await h.call(case.add_task, "whatever", priority=3)
    assert queued.priority == 3
    assert (await h.call(case.get, queued.uuid)).status == "new"
    # nothing reached the real backend
    case.restore()
    assert await h.call(app.get, queued.uuid) is None


async def test_settings_default_is_all_disabled(h: Any) -> None:
    app = h.app()
    case = _case(h, app)
    case.settings()
    assert case.test_config == TestConfig()
    assert isinstance(app.backend, MemoryBackend)


async def test_async_test_case_start_in_the_running_loop() -> None:
    import qtasks.asyncio

    app = qtasks.asyncio.QueueTasks(f"tc-loop-{os.getpid()}", broker_url="memory://tc-loop")

    @app.task
    async def neg(x: int) -> int:
        return -x

    case = AsyncTestCase(app)
    case.settings(TestConfig.only_worker())
    await case.start()
    try:
        done = await case.add_task("neg", 4, timeout=LIMIT)
    finally:
        await case.stop()
    assert done.returning == -4
