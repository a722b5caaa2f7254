"""Code written for QTasks 1.7 imports unchanged: every module path of the original
package (152, listed below with the public names each held) imports and holds those
names, except the paths of features that come later (`LATER`). Then the pieces behind
the new paths: stats, the test plugins, plugin mixins, command queues, `_build_task`,
the brokers this version does not ship."""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from qtasks.configs import QueueConfig
from qtasks.exc import ConfigError

from .conftest import REDIS_URL

pytestmark = pytest.mark.anyio

LIMIT = 10.0

#: The original package's module paths and the public names each defined or re-exported.
ORIGINAL: dict[str, list[str]] = {
    # packages without an __init__ of their own (namespace packages) count as paths too
    "qtasks.plugins.depends.contexts": [],
    "qtasks.plugins.grpc.core": [],
    "qtasks.utils.tasks.chains": [],
    "qtasks": ["AsyncRouter", "Depends", "QueueTasks", "SyncRouter", "shared_task"],
    "qtasks.__main__": ["get_app", "main", "positional"],
    "qtasks._state": [],
    "qtasks.asyncio": ["QueueTasks"],
    "qtasks.asyncio.qtasks": ["QueueTasks"],
    "qtasks.base": ["BaseQueueTasks"],
    "qtasks.base.qtasks": ["BaseQueueTasks"],
    "qtasks.brokers": [],
    "qtasks.brokers.async_kafka": ["AsyncKafkaBroker", "BaseBroker"],
    "qtasks.brokers.async_rabbitmq": ["AsyncRabbitMQBroker", "BaseBroker"],
    "qtasks.brokers.async_redis": ["AsyncRedisBroker", "BaseBroker"],
    "qtasks.brokers.async_socket": ["AsyncSocketBroker", "BaseBroker"],
    "qtasks.brokers.base": ["BaseBroker"],
    "qtasks.brokers.sync_kafka": ["BaseBroker", "SyncKafkaBroker"],
    "qtasks.brokers.sync_rabbitmq": ["BaseBroker", "SyncRabbitMQBroker"],
    "qtasks.brokers.sync_redis": ["BaseBroker", "SyncRedisBroker"],
    "qtasks.brokers.sync_socket": ["BaseBroker", "SyncSocketBroker"],
    "qtasks.configs": ["AsyncRedisGlobalConfig", "QueueConfig", "SyncRedisGlobalConfig"],
    "qtasks.configs.async_redisglobalconfig": ["AsyncRedisGlobalConfig", "BaseGlobalConfig"],
    "qtasks.configs.base": ["BaseGlobalConfig"],
    "qtasks.configs.config": ["QueueConfig"],
    "qtasks.configs.sync_redisglobalconfig": ["BaseGlobalConfig", "SyncRedisGlobalConfig"],
    "qtasks.contexts": ["AsyncContext", "SyncContext"],
    "qtasks.contexts.async_context": ["AsyncContext"],
    "qtasks.contexts.sync_context": ["SyncContext"],
    "qtasks.contrib": [],
    "qtasks.contrib.django": ["autodiscover_tasks"],
    "qtasks.contrib.django.autodiscover": ["autodiscover_tasks"],
    "qtasks.contrib.redis": ["AsyncRedisCommandQueue", "SyncRedisCommandQueue"],
    "qtasks.contrib.redis.async_queue_client": ["AsyncRedisCommandQueue"],
    "qtasks.contrib.redis.sync_queue_client": ["SyncRedisCommandQueue"],
    "qtasks.enums": ["TaskStatusEnum"],
    "qtasks.enums.task_status": ["TaskStatusEnum"],
    "qtasks.events": ["AsyncEvents", "SyncEvents"],
    "qtasks.events.async_events": ["AsyncEvents"],
    "qtasks.events.base": ["BaseEvents"],
    "qtasks.events.events": ["BaseOnEvents", "OnEvents"],
    "qtasks.events.sync_events": ["SyncEvents"],
    "qtasks.exc": ["TaskCancelError", "TaskPluginTriggerError"],
    "qtasks.exc.plugins": ["TaskPluginTriggerError"],
    "qtasks.exc.task": ["TaskCancelError"],
    "qtasks.executors": ["AsyncTaskExecutor", "SyncTaskExecutor"],
    "qtasks.executors.async_task_executor": ["AsyncTaskExecutor", "BaseTaskExecutor"],
    "qtasks.executors.base": ["BaseTaskExecutor"],
    "qtasks.executors.sync_task_executor": ["BaseTaskExecutor", "SyncTaskExecutor"],
    "qtasks.logs": ["Logger"],
    "qtasks.middlewares": ["TaskMiddleware"],
    "qtasks.middlewares.base": ["BaseMiddleware"],
    "qtasks.middlewares.task": ["BaseMiddleware", "TaskMiddleware"],
    "qtasks.mixins": ["AsyncPluginMixin", "SyncPluginMixin"],
    "qtasks.mixins.async_plugin_cache": ["AsyncPluginCacheMixin"],
    "qtasks.mixins.plugin": ["AsyncPluginMixin", "SyncPluginMixin"],
    "qtasks.mixins.sync_plugin_cache": ["SyncPluginCacheMixin"],
    "qtasks.plugins": [
        "AsyncDependsPlugin",
        "AsyncPydanticWrapperPlugin",
        "AsyncRetryPlugin",
        "AsyncState",
        "AsyncStatePlugin",
        "AsyncTestPlugin",
        "Depends",
        "SyncDependsPlugin",
        "SyncPydanticWrapperPlugin",
        "SyncRetryPlugin",
        "SyncState",
        "SyncStatePlugin",
        "SyncTestPlugin",
    ],
    "qtasks.plugins.base": ["BasePlugin"],
    "qtasks.plugins.depends": ["AsyncDependsPlugin", "Depends", "ScopeEnum", "SyncDependsPlugin"],
    "qtasks.plugins.depends.async_depends": ["AsyncDependsPlugin"],
    "qtasks.plugins.depends.class_depends": ["Depends"],
    "qtasks.plugins.depends.contexts.async_contexts": ["AsyncContextPool"],
    "qtasks.plugins.depends.contexts.sync_contexts": ["SyncContextPool"],
    "qtasks.plugins.depends.enums": ["ScopeEnum"],
    "qtasks.plugins.depends.enums.scope": ["ScopeEnum"],
    "qtasks.plugins.depends.sync_depends": ["SyncDependsPlugin"],
    "qtasks.plugins.grpc": ["AsyncgRPCPlugin", "SyncgRPCPlugin", "qtasks_pb2", "qtasks_pb2_grpc"],
    "qtasks.plugins.grpc.async_grpc": ["AsyncgRPCPlugin"],
    "qtasks.plugins.grpc.core.qtasks_pb2": [],
    "qtasks.plugins.grpc.core.qtasks_pb2_grpc": [
        "QTasksService",
        "QTasksServiceServicer",
        "QTasksServiceStub",
        "add_QTasksServiceServicer_to_server",
    ],
    "qtasks.plugins.grpc.services": [
        "AsyncQTasksGRPCServer",
        "AsyncQTasksServiceServicer",
        "SyncQTasksGRPCServer",
        "SyncQTasksServiceServicer",
    ],
    "qtasks.plugins.grpc.services.async_server": [
        "AsyncQTasksGRPCServer",
        "AsyncQTasksServiceServicer",
    ],
    "qtasks.plugins.grpc.services.async_services": ["AsyncQTasksServiceServicer"],
    "qtasks.plugins.grpc.services.sync_server": [
        "SyncQTasksGRPCServer",
        "SyncQTasksServiceServicer",
    ],
    "qtasks.plugins.grpc.services.sync_services": ["SyncQTasksServiceServicer"],
    "qtasks.plugins.grpc.sync_grpc": ["SyncgRPCPlugin"],
    "qtasks.plugins.pydantic": ["AsyncPydanticWrapperPlugin", "SyncPydanticWrapperPlugin"],
    "qtasks.plugins.pydantic.async_pydantic": ["AsyncPydanticWrapperPlugin"],
    "qtasks.plugins.pydantic.sync_pydantic": ["SyncPydanticWrapperPlugin"],
    "qtasks.plugins.retries": ["AsyncRetryPlugin", "SyncRetryPlugin"],
    "qtasks.plugins.retries.async_retry": ["AsyncRetryPlugin"],
    "qtasks.plugins.retries.sync_retry": ["SyncRetryPlugin"],
    "qtasks.plugins.states": ["AsyncState", "AsyncStatePlugin", "SyncState", "SyncStatePlugin"],
    "qtasks.plugins.states.async_state": ["AsyncState", "AsyncStatePlugin"],
    "qtasks.plugins.states.fsm": [
        "AsyncState",
        "AsyncStateRegistry",
        "SyncState",
        "SyncStateRegistry",
    ],
    "qtasks.plugins.states.registry": ["AsyncStateRegistry", "SyncStateRegistry"],
    "qtasks.plugins.states.sync_state": ["SyncState", "SyncStatePlugin"],
    "qtasks.plugins.testing": ["AsyncTestPlugin", "SyncTestPlugin"],
    "qtasks.plugins.testing.async_test": ["AsyncTestPlugin"],
    "qtasks.plugins.testing.sync_test": ["SyncTestPlugin"],
    "qtasks.qtasks": ["QueueTasks"],
    "qtasks.registries": ["AsyncTask", "SyncTask", "TaskRegistry"],
    "qtasks.registries.async_task_decorator": ["AsyncTask"],
    "qtasks.registries.sync_task_decorator": ["SyncTask"],
    "qtasks.registries.task_registry": ["TaskRegistry"],
    "qtasks.results": ["AsyncResult", "SyncResult"],
    "qtasks.results.async_result": ["AsyncResult"],
    "qtasks.results.sync_result": ["SyncResult"],
    "qtasks.routers": ["AsyncRouter", "SyncRouter"],
    "qtasks.routers.async_router": ["AsyncRouter"],
    "qtasks.routers.sync_router": ["SyncRouter"],
    "qtasks.schemas": [
        "GlobalConfigSchema",
        "TaskExecSchema",
        "TaskStatusErrorSchema",
        "TaskStatusNewSchema",
        "TaskStatusProcessSchema",
        "TaskStatusSuccessSchema",
        "TestConfig",
    ],
    "qtasks.schemas.argmeta": ["ArgMeta"],
    "qtasks.schemas.global_config": ["GlobalConfigSchema"],
    "qtasks.schemas.inits": ["InitsExecSchema"],
    "qtasks.schemas.task": ["Task"],
    "qtasks.schemas.task_cls": ["AsyncTaskCls", "BaseTaskCls", "SyncTaskCls"],
    "qtasks.schemas.task_exec": ["TaskExecSchema", "TaskPrioritySchema"],
    "qtasks.schemas.task_status": [
        "BaseTaskStatusSchema",
        "TaskStatusCancelSchema",
        "TaskStatusErrorSchema",
        "TaskStatusNewSchema",
        "TaskStatusProcessSchema",
        "TaskStatusSuccessSchema",
    ],
    "qtasks.schemas.test": ["TestConfig"],
    "qtasks.starters": ["AsyncStarter", "SyncStarter"],
    "qtasks.starters.async_starter": ["AsyncStarter", "BaseStarter"],
    "qtasks.starters.base": ["BaseStarter"],
    "qtasks.starters.sync_starter": ["BaseStarter", "SyncStarter"],
    "qtasks.stats": ["AsyncStats", "SyncStats"],
    "qtasks.stats.async_stats": ["AsyncStats", "BaseStats", "InspectStats"],
    "qtasks.stats.base": ["BaseStats"],
    "qtasks.stats.inspect": ["InspectStats", "UtilsInspectStats"],
    "qtasks.stats.inspect.base": ["UtilsInspectStats"],
    "qtasks.stats.inspect.inspect": ["InspectStats", "UtilsInspectStats"],
    "qtasks.stats.sync_stats": ["BaseStats", "InspectStats", "SyncStats"],
    "qtasks.storages": ["AsyncRedisStorage", "SyncRedisStorage"],
    "qtasks.storages.async_redis": ["AsyncRedisStorage", "BaseStorage"],
    "qtasks.storages.base": ["BaseStorage"],
    "qtasks.storages.sync_redis": ["BaseStorage", "SyncRedisStorage"],
    "qtasks.tests": ["AsyncTestCase", "SyncTestCase"],
    "qtasks.tests.async_classes": [
        "AsyncTestBroker",
        "AsyncTestGlobalConfig",
        "AsyncTestStorage",
        "AsyncTestWorker",
    ],
    "qtasks.tests.async_testcase": ["AsyncTestCase"],
    "qtasks.tests.base": ["BaseTestCase"],
    "qtasks.tests.sync_classes": [
        "SyncTestBroker",
        "SyncTestGlobalConfig",
        "SyncTestStorage",
        "SyncTestWorker",
    ],
    "qtasks.tests.sync_testcase": ["SyncTestCase"],
    "qtasks.timers": ["AsyncTimer", "SyncTimer"],
    "qtasks.timers.async_timer": ["AsyncTimer", "BaseTimer"],
    "qtasks.timers.base": ["BaseTimer"],
    "qtasks.timers.sync_timer": ["BaseTimer", "SyncTimer"],
    "qtasks.types": ["P", "R", "T", "TAsyncFlag"],
    "qtasks.types.annotations": [],
    "qtasks.types.typing": [],
    "qtasks.utils": ["AsyncTaskUtils", "get_app", "shared_task"],
    "qtasks.utils.app": ["get_app"],
    "qtasks.utils.builds": [],
    "qtasks.utils.registry": ["shared_task"],
    "qtasks.utils.tasks": ["AsyncTaskUtils"],
    "qtasks.utils.tasks.async_task_utils": ["AsyncTaskUtils"],
    "qtasks.utils.tasks.chains.async_chains": ["AsyncChain"],
    "qtasks.utils.tasks.chains.sync_chains": ["SyncChain"],
    "qtasks.utils.tasks.sync_task_utils": ["SyncTaskUtils"],
    "qtasks.version": [],
    "qtasks.workers": ["AsyncWorker", "SyncThreadWorker"],
    "qtasks.workers.async_worker": ["AsyncWorker", "BaseWorker"],
    "qtasks.workers.base": ["BaseWorker"],
    "qtasks.workers.sync_worker": ["BaseWorker", "SyncThreadWorker"],
}

#: Paths of features that are not built yet: none left, every path of the original
#: imports with its names.
LATER: set[str] = set()


def test_the_list_is_the_original_package() -> None:
    assert len(ORIGINAL) == 152 and not LATER


@pytest.mark.parametrize("path", sorted(set(ORIGINAL) - LATER))
def test_original_path_imports_with_its_names(path: str) -> None:
    module = importlib.import_module(path)
    missing = [name for name in ORIGINAL[path] if not hasattr(module, name)]
    assert not missing, f"{path} lacks {missing}"


def test_every_path_imports_in_a_fresh_process() -> None:
    """Import order must not matter: each path in its own interpreter, deepest first."""
    paths = sorted(set(ORIGINAL) - LATER, key=lambda p: -p.count("."))
    code = "import importlib, sys\nfor p in sys.argv[1:]:\n    importlib.import_module(p)\n"
    for chunk in (paths[: len(paths) // 2], paths[len(paths) // 2 :]):
        subprocess.run([sys.executable, "-c", code, *chunk], check=True, timeout=60)


def test_names_are_the_objects_qtasks_uses() -> None:
    import qtasks.asyncio
    from qtasks.brokers.async_redis import AsyncRedisBroker
    from qtasks.brokers.base import BaseBroker
    from qtasks.contexts.async_context import AsyncContext
    from qtasks.registries.async_task_decorator import AsyncTask
    from qtasks.registries.sync_task_decorator import SyncTask
    from qtasks.routers.sync_router import SyncRouter
    from qtasks.storages.base import BaseStorage
    from qtasks.storages.sync_redis import SyncRedisStorage
    from qtasks.workers.async_worker import AsyncWorker
    from qtasks.workers.base import BaseWorker

    assert issubclass(AsyncRedisBroker, BaseBroker)
    assert issubclass(SyncRedisStorage, BaseStorage)
    assert issubclass(AsyncWorker, BaseWorker)
    assert AsyncContext is qtasks.contexts.AsyncContext
    assert SyncRouter is qtasks.routers.SyncRouter

    aio = qtasks.asyncio.QueueTasks("paths-aio", broker_url="memory://paths-aio")
    sync = qtasks.QueueTasks("paths-sync", broker_url="memory://paths-sync")

    @aio.task
    async def a() -> None: ...

    @sync.task
    def s() -> None: ...

    assert isinstance(a, AsyncTask) and isinstance(s, SyncTask)


@pytest.mark.parametrize(
    "path, name",
    [
        ("qtasks.brokers.async_kafka", "AsyncKafkaBroker"),
        ("qtasks.brokers.sync_kafka", "SyncKafkaBroker"),
        ("qtasks.brokers.async_socket", "AsyncSocketBroker"),
    ],
)
def test_brokers_this_version_lacks_say_what_to_use(path: str, name: str) -> None:
    cls = getattr(importlib.import_module(path), name)
    with pytest.raises(ConfigError, match=rf"{name} is not part of qtasks .*broker_url="):
        cls(name="x")


# --- the test plugin ------------------------------------------------------------------------
@pytest.mark.parametrize("facade", ["sync", "async"])
async def test_the_test_plugin_marks_tasks_declared_for_tests(facade: str) -> None:
    import qtasks
    import qtasks.asyncio
    from qtasks.plugins import AsyncTestPlugin as FromPackage
    from qtasks.plugins.testing.async_test import AsyncTestPlugin
    from qtasks.plugins.testing.sync_test import SyncTestPlugin

    assert FromPackage is AsyncTestPlugin
    cls = qtasks.asyncio.QueueTasks if facade == "async" else qtasks.QueueTasks
    app = cls(f"testplugin-{facade}", broker_url=f"memory://testplugin-{facade}")
    plugin = AsyncTestPlugin() if facade == "async" else SyncTestPlugin()
    app.add_plugin(
        plugin,
        trigger_names=["worker_execute_before", "worker_remove_finished_task"],
        component="worker",
    )

    @app.task(test=True)
    def marked(x: int) -> int:
        return x + 1

    @app.task
    def plain(x: int) -> int:
        return x + 2

    if facade == "async":
        async with app.serve():
            one = await app.add_task("marked", 1, timeout=LIMIT)
            two = await app.add_task("plain", 1, timeout=LIMIT)
    else:
        with app.serve():
            one = app.add_task("marked", 1, timeout=LIMIT)
            two = app.add_task("plain", 1, timeout=LIMIT)
    assert one.status == "success" and one.returning == 2 and one.is_testing is True
    assert two.status == "success" and two.returning == 3
    assert not getattr(two, "is_testing", False)


# --- stats ----------------------------------------------------------------------------------
def _stats_app(cls: Any) -> Any:
    app = cls("stats-app", broker_url="memory://stats-app", config=QueueConfig())

    @app.task(description="adds two numbers", tags=["math", "demo"], retry=2, flavour="x")
    def add(a: int, b: int = 2) -> int:
        return a + b

    @app.task
    def ping() -> str:
        return "pong"

    return app


def _labels(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if len(line) > 28 and line[26:28] == ": ":
            out[line[:26].rstrip()] = line[28:]
    return out


def test_sync_stats_inspect_describes_the_app_and_tasks() -> None:
    import qtasks
    from qtasks.stats import SyncStats
    from qtasks.stats.inspect import InspectStats

    app = _stats_app(qtasks.QueueTasks)
    inspected = SyncStats(app).inspect()
    assert isinstance(inspected, InspectStats)

    text = inspected.app()
    assert text.endswith("\n" + "-" * 50)
    labels = _labels(text)
    assert list(labels)[:7] == [
        "Name",
        "Method",
        "Version",
        "Config",
        "Tasks Count",
        "Routers Count",
        "Plugins Count",
    ]
    assert labels["Name"] == "stats-app" and labels["Method"] == "sync"
    assert labels["Tasks Count"] == "2" and labels["Starter"] == "—"
    assert {"Broker", "Worker", "Storage", "GlobalConfig", "Log", "Init Count"} <= set(labels)
    assert json.loads(inspected.app(json=True))["Name"] == "stats-app"

    one = _labels(inspected.task("add"))
    assert one["Task nane"] == "add" and one["Description"] == "adds two numbers"
    assert one["Tags"] == "math, demo" and one["Retry Count"] == "2"
    assert one["Args"] == "a: int" and one["Kwargs"] == "b: int=2"
    assert " * flavour: x" in inspected.task("add")
    with pytest.raises(KeyError):
        inspected.task("nope")

    both = inspected.tasks()
    assert both.count("-" * 50) == 2
    assert inspected.tasks("ping", "nope").count("Task nane") == 1
    data = json.loads(inspected.tasks("add", json=True))
    assert [d["name"] for d in data] == ["add"]
    assert list(data[0]) == [
        "priority",
        "name",
        "func",
        "awaiting",
        "generating",
        "echo",
        "max_time",
        "retry",
        "retry_on_exc",
        "decode",
        "tags",
        "description",
        "generate_handler",
        "executor",
        "middlewares_before",
        "middlewares_after",
        "extra",
    ]
    assert json.loads(inspected.task("add", json=True))["extra"] == {"flavour": "x"}

    empty = qtasks.QueueTasks("stats-empty", broker_url="memory://stats-empty")
    assert SyncStats(empty).inspect().tasks() == "No registered tasks."


async def test_async_stats_fires_stats_inspect() -> None:
    import qtasks.asyncio
    from qtasks.plugins.base import BasePlugin
    from qtasks.stats import AsyncStats

    seen: list[Any] = []

    class Watcher(BasePlugin):
        def trigger(self, name: str, *args: Any, **kwargs: Any) -> None:
            seen.append((name, kwargs.get("stats")))

    app = _stats_app(qtasks.asyncio.QueueTasks)
    app.add_plugin(Watcher(), trigger_names=["stats_inspect"])
    stats = AsyncStats(app)
    inspected = await stats.inspect()
    assert seen == [("stats_inspect", stats)]
    assert _labels(inspected.app())["Method"] == "async"


def test_stats_inspect_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "statsapp.py").write_text(
        textwrap.dedent(
            """
            from qtasks import QueueTasks
            app = QueueTasks("cli-stats", broker_url="memory://cli-stats")

            @app.task(tags=["a"])
            def add(a: int, b: int) -> int:
                return a + b
            """
        )
    )

    def qtasks_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qtasks", "-A", "statsapp:app", "stats", "inspect", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = qtasks_cli("tasks", "json=true")
    assert done.returncode == 0, done.stderr
    assert [t["name"] for t in json.loads(done.stdout)] == ["add"]
    done = qtasks_cli("task", "add")
    assert done.returncode == 0 and "Task nane" in done.stdout
    done = qtasks_cli("app")
    assert done.returncode == 0 and "cli-stats" in done.stdout
    done = qtasks_cli("task", "nope")
    assert done.returncode != 0 and "nope" in done.stderr


def test_main_module_helpers() -> None:
    from qtasks.__main__ import get_app, positional

    class Args:
        extra = ["add", "json=true", "n=3", "ratio=0.5", "word=hi"]

    assert positional(Args()) == (["add"], {"json": True, "n": 3, "ratio": 0.5, "word": "hi"})
    assert get_app("no_such_module_here:app") is None


# --- mixins, command queues, builds ------------------------------------------------------------
def test_sync_plugin_mixin_runs_plugins_in_order() -> None:
    from qtasks.mixins import SyncPluginMixin
    from qtasks.plugins.base import BasePlugin

    class Double(BasePlugin):
        def trigger(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return {"args": [a * 2 for a in kwargs["args"]], "seen": name}

    class Broken(BasePlugin):
        def trigger(self, name: str, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("boom")

    class Component(SyncPluginMixin):
        def __init__(self) -> None:
            self.plugins = {}

    c = Component()
    c.add_plugin(Double(), trigger_names=["go"])
    c.add_plugin(Double(), trigger_names=["go"])
    assert c._plugin_trigger("go", args=[1, 2], return_last=True) == {
        "args": [4, 8],
        "seen": "go",
    }
    assert len(c._plugin_trigger("go", args=[1])) == 2
    c.add_plugin(Broken(), trigger_names=["bad"])
    c.add_plugin(Double(), trigger_names=["bad"])
    assert c._plugin_trigger("bad", args=[1]) == []
    assert len(c._plugin_trigger("bad", args=[1], continue_on_fail=True)) == 1
    with pytest.raises(RuntimeError):
        c._plugin_trigger("bad", args=[1], safe=False)


async def test_async_plugin_mixin_awaits_async_plugins() -> None:
    from qtasks.mixins.plugin import AsyncPluginMixin
    from qtasks.plugins.base import BasePlugin

    class Later(BasePlugin):
        async def trigger(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
            return {"kw": {"done": True}}

    class Component(AsyncPluginMixin):
        plugins: dict[str, list[Any]] = {}

    c = Component()
    c.plugins = {}
    c.add_plugin(Later(), trigger_names=["go"])
    assert await c._plugin_trigger("go", return_last=True) == {"kw": {"done": True}}


async def test_redis_command_queues_send_commands() -> None:
    import redis
    import redis.asyncio

    from qtasks.contrib.redis import AsyncRedisCommandQueue, SyncRedisCommandQueue

    key = "qtasks-test:command-queue"
    sync_client = redis.Redis.from_url(REDIS_URL)
    try:
        queue = SyncRedisCommandQueue(sync_client)
        for n in range(5):
            queue.execute("rpush", key, n)
        assert queue.wait(LIMIT)
        assert sync_client.lrange(key, 0, -1) == [b"0", b"1", b"2", b"3", b"4"]

        async_client = redis.asyncio.Redis.from_url(REDIS_URL)
        aqueue = AsyncRedisCommandQueue(async_client)
        await aqueue.execute("rpush", key, "x")
        await aqueue.wait()
        assert sync_client.lrange(key, -1, -1) == [b"x"]
        await async_client.aclose()
    finally:
        sync_client.delete(key)
        sync_client.close()


def test_build_task_merges_fields_and_extras() -> None:
    from qtasks.utils.builds import _build_task

    @dataclasses.dataclass
    class Record:
        name: str = ""
        count: int = 0

    built = _build_task(Record("a", 1), count="7", flag="True", items="[1, 2]")
    assert built.name == "a" and built.count == 7
    assert built.flag is True and built.items == [1, 2]
    assert isinstance(built, Record)
    with pytest.raises(TypeError):
        _build_task(Record)


def test_the_compatibility_page_lists_every_served_path() -> None:
    import re

    from qtasks._compat_paths import ALIASES, MODULES, NAMES

    page = (Path(__file__).resolve().parents[2] / "docs" / "compatibility.md").read_text()
    listed = set(re.findall(r"^\| `([\w.]+)` \|", page, re.M))
    served = (set(MODULES) | set(ALIASES) | set(NAMES)) - {"qtasks.app.base"}
    assert listed == served
    assert f"all {len(set(ORIGINAL) - LATER)} import" in page
