"""QTasks 1.7's import paths: every path of the compat table imports, holds its documented
names, and is the same module object as its `qtasks.compat` module; 1.7 names of real
modules are the objects qtasks itself uses."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from typing import Any

import pytest

import qtasks
import qtasks.compat
from qtasks._compat_paths import ALIASES, MODULES, NAMES

#: The names the QTasks 1.7 reference documents for each path of the table.
DOCUMENTED: dict[str, list[str]] = {
    "qtasks.qtasks": ["QueueTasks"],
    "qtasks.asyncio.qtasks": ["QueueTasks"],
    "qtasks.base": [],
    "qtasks.base.qtasks": ["BaseQueueTasks"],
    "qtasks.brokers": ["AsyncRedisBroker", "SyncRedisBroker"],
    "qtasks.storages": ["AsyncRedisStorage", "SyncRedisStorage"],
    "qtasks.workers": ["AsyncWorker", "SyncThreadWorker"],
    "qtasks.configs.config": ["QueueConfig"],
    "qtasks.enums": ["TaskStatusEnum"],
    "qtasks.enums.task_status": ["TaskStatusEnum"],
    "qtasks.events.base": ["BaseEvents"],
    "qtasks.events.events": ["OnEvents", "BaseOnEvents"],
    "qtasks.exc.plugins": ["TaskPluginTriggerError"],
    "qtasks.exc.task": ["TaskCancelError"],
    "qtasks.executors": ["AsyncTaskExecutor", "SyncTaskExecutor"],
    "qtasks.executors.base": ["BaseTaskExecutor"],
    "qtasks.middlewares.base": ["BaseMiddleware"],
    "qtasks.results": ["AsyncResult", "SyncResult"],
    "qtasks.schemas": ["GlobalConfigSchema", "TaskExecSchema", "TestConfig"],
    "qtasks.schemas.argmeta": ["ArgMeta"],
    "qtasks.schemas.global_config": ["GlobalConfigSchema"],
    "qtasks.schemas.inits": ["InitsExecSchema"],
    "qtasks.schemas.task": ["Task"],
    "qtasks.schemas.task_cls": ["BaseTaskCls", "AsyncTaskCls", "SyncTaskCls"],
    "qtasks.schemas.task_exec": ["TaskExecSchema", "TaskPrioritySchema"],
    "qtasks.schemas.task_status": [
        "BaseTaskStatusSchema",
        "TaskStatusNewSchema",
        "TaskStatusProcessSchema",
        "TaskStatusSuccessSchema",
        "TaskStatusErrorSchema",
        "TaskStatusCancelSchema",
    ],
    "qtasks.schemas.test": ["TestConfig"],
    "qtasks.tests.base": ["BaseTestCase"],
    "qtasks.types": ["P", "R", "T", "TAsyncFlag"],
    "qtasks.utils.tasks": ["AsyncTaskUtils"],
    "qtasks.utils.tasks.async_task_utils": ["AsyncTaskUtils"],
    "qtasks.utils.tasks.sync_task_utils": ["SyncTaskUtils"],
    "qtasks.utils.tasks.chains": [],
    "qtasks.utils.tasks.chains.async_chains": ["AsyncChain"],
    "qtasks.utils.tasks.chains.sync_chains": ["SyncChain"],
}

#: Compat packages that only hold modules of the table (their own path stays real).
HOLDERS = {
    "qtasks.compat",
    "qtasks.compat.asyncio",
    "qtasks.compat.exc",
    "qtasks.compat.middlewares",
    "qtasks.compat.tests",
}


def test_every_path_of_the_table_is_documented_here() -> None:
    assert set(DOCUMENTED) == set(MODULES)


@pytest.mark.parametrize("path", sorted(MODULES))
def test_original_path_is_its_compat_module(path: str) -> None:
    module = importlib.import_module(path)
    target = MODULES[path]
    assert module is sys.modules[path] is sys.modules[target]
    assert module.__name__ == target and module.__spec__.name == target
    missing = [name for name in DOCUMENTED[path] if not hasattr(module, name)]
    assert not missing, f"{path} lacks {missing}"
    for name in getattr(module, "__all__", []):
        getattr(module, name)
    parent, _, child = path.rpartition(".")
    assert getattr(sys.modules[parent], child) is module  # `from parent import child`


@pytest.mark.parametrize(
    ("path", "name"), sorted((path, name) for path, (_, names) in NAMES.items() for name in names)
)
def test_1_7_names_of_real_modules_come_from_compat(path: str, name: str) -> None:
    module = importlib.import_module(path)
    holder = importlib.import_module(NAMES[path][0])
    assert not module.__name__.startswith("qtasks.compat")
    assert getattr(module, name) is getattr(holder, name)
    assert name not in getattr(module, "__all__", [])
    assert name in holder.__all__


def _same(path: str, name: str) -> Any:
    return getattr(importlib.import_module(path), name)


def test_original_names_reach_the_objects_qtasks_uses() -> None:
    import qtasks.schemas.task_exec
    from qtasks.app.base import BaseQueueTasks
    from qtasks.app.results import AsyncResult, SyncResult
    from qtasks.app.task import Task
    from qtasks.chains import AsyncChain, SyncChain
    from qtasks.compat import redis_components as redis_names
    from qtasks.core.argmeta import ArgMeta
    from qtasks.core.config import QueueConfig
    from qtasks.core.models import TaskPrioritySchema, TaskSpec
    from qtasks.engine.executor import TaskExecutor
    from qtasks.events import BaseEvents, EventHandler, OnEvents
    from qtasks.exc import TaskCancelError, TaskPluginTriggerError
    from qtasks.middlewares import BaseMiddleware
    from qtasks.plugins.depends import DependsPlugin
    from qtasks.plugins.pydantic import PydanticWrapperPlugin
    from qtasks.plugins.states import StatePlugin
    from qtasks.registries.registry import TaskRegistry
    from qtasks.registries.task import AsyncTask, AsyncTaskCls, BaseTaskCls, SyncTask, SyncTaskCls
    from qtasks.tests import BaseTestCase, TestConfig

    assert qtasks.schemas.task_exec.TaskExecSchema is TaskSpec
    pairs: list[tuple[str, str, object]] = [
        ("qtasks.schemas.task_exec", "TaskPrioritySchema", TaskPrioritySchema),
        ("qtasks.schemas", "TaskExecSchema", TaskSpec),
        ("qtasks.schemas.task", "Task", Task),
        ("qtasks.schemas.argmeta", "ArgMeta", ArgMeta),
        ("qtasks.schemas.inits", "InitsExecSchema", EventHandler),
        ("qtasks.schemas.test", "TestConfig", TestConfig),
        ("qtasks.schemas", "TestConfig", TestConfig),
        ("qtasks.schemas.task_cls", "BaseTaskCls", BaseTaskCls),
        ("qtasks.schemas.task_cls", "AsyncTaskCls", AsyncTaskCls),
        ("qtasks.schemas.task_cls", "SyncTaskCls", SyncTaskCls),
        ("qtasks.qtasks", "QueueTasks", qtasks.QueueTasks),
        (
            "qtasks.asyncio.qtasks",
            "QueueTasks",
            importlib.import_module("qtasks.asyncio").QueueTasks,
        ),
        ("qtasks.base.qtasks", "BaseQueueTasks", BaseQueueTasks),
        ("qtasks.brokers", "AsyncRedisBroker", redis_names.AsyncRedisBroker),
        ("qtasks.brokers", "SyncRedisBroker", redis_names.SyncRedisBroker),
        ("qtasks.storages", "AsyncRedisStorage", redis_names.AsyncRedisStorage),
        ("qtasks.storages", "SyncRedisStorage", redis_names.SyncRedisStorage),
        ("qtasks.configs", "AsyncRedisGlobalConfig", redis_names.AsyncRedisGlobalConfig),
        ("qtasks.configs", "SyncRedisGlobalConfig", redis_names.SyncRedisGlobalConfig),
        ("qtasks.configs.config", "QueueConfig", QueueConfig),
        ("qtasks.executors", "AsyncTaskExecutor", TaskExecutor),
        ("qtasks.executors", "SyncTaskExecutor", TaskExecutor),
        ("qtasks.executors.base", "BaseTaskExecutor", TaskExecutor),
        ("qtasks.results", "AsyncResult", AsyncResult),
        ("qtasks.results", "SyncResult", SyncResult),
        ("qtasks.exc.task", "TaskCancelError", TaskCancelError),
        ("qtasks.exc.plugins", "TaskPluginTriggerError", TaskPluginTriggerError),
        ("qtasks.middlewares.base", "BaseMiddleware", BaseMiddleware),
        ("qtasks.events.base", "BaseEvents", BaseEvents),
        ("qtasks.events.events", "OnEvents", OnEvents),
        ("qtasks.events.events", "BaseOnEvents", OnEvents),
        ("qtasks.events", "BaseOnEvents", OnEvents),
        ("qtasks.tests.base", "BaseTestCase", BaseTestCase),
        ("qtasks.utils.tasks.chains", "SyncChain", SyncChain),
        ("qtasks.utils.tasks.chains.sync_chains", "SyncChain", SyncChain),
        ("qtasks.utils.tasks.chains.async_chains", "AsyncChain", AsyncChain),
        ("qtasks.plugins", "AsyncDependsPlugin", DependsPlugin),
        ("qtasks.plugins.depends", "SyncDependsPlugin", DependsPlugin),
        ("qtasks.plugins", "AsyncPydanticWrapperPlugin", PydanticWrapperPlugin),
        ("qtasks.plugins.pydantic", "SyncPydanticWrapperPlugin", PydanticWrapperPlugin),
        ("qtasks.plugins", "AsyncStatePlugin", StatePlugin),
        ("qtasks.plugins.states", "SyncStatePlugin", StatePlugin),
        ("qtasks.registries", "AsyncTask", AsyncTask),
        ("qtasks.registries", "SyncTask", SyncTask),
        ("qtasks.registries", "TaskRegistry", TaskRegistry),
    ]
    wrong = [f"{path}.{name}" for path, name, real in pairs if _same(path, name) is not real]
    assert not wrong, f"not the real object: {wrong}"
    assert _same("qtasks.utils", "SyncTaskUtils") is _same(
        "qtasks.utils.tasks.sync_task_utils", "SyncTaskUtils"
    )
    assert _same("qtasks.utils", "AsyncTaskUtils") is _same("qtasks.utils.tasks", "AsyncTaskUtils")
    assert _same("qtasks.enums", "TaskStatusEnum") is _same(
        "qtasks.enums.task_status", "TaskStatusEnum"
    )


def test_instances_match_whichever_name_is_used() -> None:
    from qtasks.schemas.test import TestConfig as OldTestConfig
    from qtasks.tests import TestConfig

    assert isinstance(TestConfig.full(), OldTestConfig)
    assert isinstance(OldTestConfig(), TestConfig)


def test_import_forms() -> None:
    import qtasks.utils.tasks.chains.async_chains
    from qtasks import brokers, schemas
    from qtasks.utils.tasks import chains
    from qtasks.utils.tasks.chains import sync_chains

    assert brokers is sys.modules["qtasks.compat.brokers"]
    assert schemas is sys.modules["qtasks.compat.schemas"]
    assert chains is sys.modules["qtasks.compat.utils.tasks.chains"]
    assert sync_chains is sys.modules["qtasks.compat.utils.tasks.chains.sync_chains"]
    assert qtasks.utils.tasks.chains.async_chains.AsyncChain is chains.AsyncChain
    assert importlib.import_module("qtasks.compat.schemas.task") is importlib.import_module(
        "qtasks.schemas.task"
    )


def test_unknown_paths_and_names_fail_as_usual() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"qtasks\.schemas\.no_such"):
        importlib.import_module("qtasks.schemas.no_such")
    with pytest.raises(ModuleNotFoundError, match=r"qtasks\.brokers\.no_such"):
        importlib.import_module("qtasks.brokers.no_such")
    with pytest.raises(ModuleNotFoundError, match=r"qtasks\.stats\.no_such"):
        importlib.import_module("qtasks.stats.no_such")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("qtasks.no_such_module")
    with pytest.raises(AttributeError, match="NoSuchPlugin"):
        _ = qtasks.plugins.NoSuchPlugin  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        from qtasks.utils import no_such_name  # type: ignore[attr-defined]  # noqa: F401


def test_every_compat_module_is_reached_by_an_original_path() -> None:
    targets = set(MODULES.values()) | {holder for holder, _ in NAMES.values()}
    targets |= {
        target.partition(":")[0]
        for names in ALIASES.values()
        for target in names.values()
        if target.startswith("qtasks.compat")
    }
    found = {"qtasks.compat"} | {
        info.name for info in pkgutil.walk_packages(qtasks.compat.__path__, "qtasks.compat.")
    }
    assert found - HOLDERS == targets


def test_importing_qtasks_loads_no_compat_module() -> None:
    code = (
        "import sys\n"
        "import qtasks, qtasks.asyncio, qtasks.cli, qtasks.configs, qtasks.contexts\n"
        "import qtasks.events, qtasks.middlewares, qtasks.plugins, qtasks.plugins.pydantic\n"
        "import qtasks.registries, qtasks.routers, qtasks.tests, qtasks.utils, qtasks.chains\n"
        "import qtasks.app.results\n"
        "app = qtasks.QueueTasks(broker_url='memory://compat-lazy')\n"
        "@app.task\n"
        "def add(a, b):\n"
        "    return a + b\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('qtasks.compat'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
