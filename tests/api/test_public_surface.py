"""The public surface: sync/async twins with the same parameters, and every public
module's `__all__` names importable."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest

import qtasks
import qtasks.asyncio


def _is_async_method(member: Any) -> bool:
    target = inspect.unwrap(member)
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def _public_callables(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member)
    }


def _params(func: Any) -> list[tuple[str, Any, Any, Any]]:
    sig = inspect.signature(func)
    return [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()]


ASYNC_METHODS = sorted(
    name
    for name, member in _public_callables(qtasks.asyncio.QueueTasks).items()
    if _is_async_method(member)
)


def test_the_async_app_has_async_methods() -> None:
    # the list below is what users rely on; it must not silently shrink
    expected = {"add_task", "get", "wait", "cancel", "ping", "flush_all", "start", "stop"}
    assert expected <= set(ASYNC_METHODS)
    assert "serve" in ASYNC_METHODS  # an async context manager


@pytest.mark.parametrize("name", ASYNC_METHODS)
def test_every_async_method_has_a_sync_twin_with_the_same_parameters(name: str) -> None:
    async_member = getattr(qtasks.asyncio.QueueTasks, name)
    sync_member = getattr(qtasks.QueueTasks, name, None)
    assert sync_member is not None, f"qtasks.QueueTasks has no sync twin of {name}()"
    assert not _is_async_method(sync_member), f"QueueTasks.{name} must be a plain call"
    assert _params(sync_member) == _params(async_member), name


def test_both_apps_have_the_same_public_methods_and_signatures() -> None:
    sync_methods = _public_callables(qtasks.QueueTasks)
    async_methods = _public_callables(qtasks.asyncio.QueueTasks)
    assert set(sync_methods) == set(async_methods)
    for name in sync_methods:
        async_params = _params(async_methods[name])
        if name == "run_forever":  # QTasks 1.7's async run_forever alone took loop=
            async_params = [p for p in async_params if p[0] != "loop"]
        assert _params(sync_methods[name]) == async_params, name


def test_task_objects_and_test_cases_are_twins_too() -> None:
    from qtasks.registries.task import AsyncTask, AsyncTaskCls, SyncTask, SyncTaskCls
    from qtasks.tests import AsyncTestCase, SyncTestCase

    pairs = [(SyncTask, AsyncTask), (SyncTaskCls, AsyncTaskCls), (SyncTestCase, AsyncTestCase)]
    for sync_cls, async_cls in pairs:
        for name, member in _public_callables(async_cls).items():
            if _is_async_method(member):
                twin = getattr(sync_cls, name, None)
                assert twin is not None, f"{sync_cls.__name__}.{name} missing"
                assert _params(twin) == _params(member), f"{sync_cls.__name__}.{name}"


def _public_modules() -> list[str]:
    names = ["qtasks"]
    for info in pkgutil.walk_packages(qtasks.__path__, "qtasks."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def _import_or_skip_missing_driver(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("qtasks"):
            pytest.skip(f"{name} needs the optional package {exc.name}")
        raise


@pytest.mark.parametrize("module_name", _public_modules())
def test_all_names_exist(module_name: str) -> None:
    module = _import_or_skip_missing_driver(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        return
    assert len(set(names)) == len(names), f"duplicates in {module_name}.__all__"
    missing = []
    for attr in names:
        try:
            getattr(module, attr)
        except (AttributeError, ImportError) as exc:
            missing.append(f"{attr} ({exc!r})")
    assert not missing, f"{module_name}.__all__ names that do not exist: {missing}"


def test_documented_import_paths() -> None:
    from qtasks import AsyncRouter, Depends, QueueTasks, SyncRouter, __version__, shared_task
    from qtasks.app.task import Task
    from qtasks.asyncio import QueueTasks as AsyncQueueTasks
    from qtasks.configs import QueueConfig
    from qtasks.enums.task_status import TaskStatusEnum
    from qtasks.logs import Logger
    from qtasks.qtasks import QueueTasks as QueueTasksAlias
    from qtasks.schemas.test import TestConfig
    from qtasks.tests import AsyncTestCase, SyncTestCase
    from qtasks.utils import get_app

    assert QueueTasks is QueueTasksAlias and QueueTasks._method == "sync"
    assert AsyncQueueTasks._method == "async"
    for obj in (AsyncRouter, SyncRouter, shared_task, Depends, QueueConfig, TaskStatusEnum):
        assert obj is not None
    for obj in (Logger, Task, TestConfig, AsyncTestCase, SyncTestCase, get_app):
        assert obj is not None
    assert isinstance(__version__, str) and __version__
    # the successor of QTasks 1.7.3: code checking for "1.7 or later" keeps its answer
    major, minor = (int(part) for part in __version__.split(".")[:2])
    assert (major, minor) > (1, 7)
    assert QueueTasks(broker_url="memory://version").version == __version__
    assert set(qtasks.__all__) >= {
        "QueueTasks",
        "AsyncRouter",
        "SyncRouter",
        "shared_task",
        "Depends",
        "__version__",
    }
    assert "QueueTasks" in qtasks.asyncio.__all__
