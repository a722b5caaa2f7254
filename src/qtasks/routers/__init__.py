"""Routers: tasks declared in one module and attached to an app later.

A router task has no app until `app.include_router(router)` binds it; used before
that, it falls back to `qtasks._state.app_main`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

from qtasks.core.hooks import Hooks
from qtasks.core.models import TaskSpec
from qtasks.exc import ConfigError
from qtasks.plugins.runner import PluginTable, add_plugin
from qtasks.registries.build import AsyncTaskDecorator, SyncTaskDecorator, decorate
from qtasks.registries.task import AsyncTask, BaseTask, P, R, SyncTask


class BaseRouter:
    _task_class: type[BaseTask[Any]] = SyncTask

    def __init__(self) -> None:
        self.tasks: dict[str, TaskSpec] = {}
        self.handles: dict[str, BaseTask[Any]] = {}
        self.plugins: PluginTable = PluginTable()

    def task(self, name: Any = None, **options: Any) -> Any:
        """`@router.task`, bare or called, with the options of `@app.task`."""
        return decorate(name, options, 0, self._register)

    def _register(self, schema: TaskSpec) -> BaseTask[Any]:
        if schema.name in self.tasks:
            raise ConfigError(f"Task with name {schema.name} is already registered!")
        handle = self._task_class(schema)
        self.tasks[schema.name] = schema
        self.handles[schema.name] = handle
        return handle

    def add_plugin(self, plugin: Hooks, trigger_names: list[str] | None = None) -> None:
        add_plugin(self.plugins, plugin, trigger_names)


class SyncRouter(BaseRouter):
    """Tasks for a sync app: `add_task` on its tasks is a plain call."""

    _task_class = SyncTask

    @overload
    def task(self, name: Callable[P, R], /) -> SyncTask[P, R]: ...
    @overload
    def task(self, name: str | None = None, **options: Any) -> SyncTaskDecorator: ...
    def task(self, name: Any = None, **options: Any) -> Any:
        return super().task(name, **options)


class AsyncRouter(BaseRouter):
    """Tasks for an async app: `add_task` on its tasks is a coroutine."""

    _task_class = AsyncTask

    @overload
    def task(self, name: Callable[P, R], /) -> AsyncTask[P, R]: ...
    @overload
    def task(self, name: str | None = None, **options: Any) -> AsyncTaskDecorator: ...
    def task(self, name: Any = None, **options: Any) -> Any:
        return super().task(name, **options)


__all__ = ["AsyncRouter", "BaseRouter", "SyncRouter"]
