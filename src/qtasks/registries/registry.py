"""The registry of shared tasks (`@shared_task`): the one app-less task table.

Apps look names up here after their own tasks, so a shared task works whether it
was imported before or after the app was created.
"""

from __future__ import annotations

from typing import Any

from qtasks.core.models import TaskSpec as TaskExecSchema
from qtasks.exc import ConfigError
from qtasks.registries.task import BaseTask


class TaskRegistry:
    _tasks: dict[str, TaskExecSchema] = {}
    _handles: dict[str, BaseTask[Any]] = {}

    @classmethod
    def register_schema(cls, schema: TaskExecSchema, handle: BaseTask[Any]) -> None:
        if schema.name in cls._tasks and cls._tasks[schema.name].func is not schema.func:
            raise ConfigError(f"Task with name {schema.name} is already registered!")
        cls._tasks[schema.name] = schema
        cls._handles[schema.name] = handle

    @classmethod
    def get_task(cls, name: str) -> TaskExecSchema | None:
        return cls._tasks.get(name)

    @classmethod
    def all_tasks(cls) -> dict[str, TaskExecSchema]:
        return dict(cls._tasks)

    @classmethod
    def clear(cls) -> None:
        cls._tasks.clear()
        cls._handles.clear()


__all__ = ["TaskRegistry"]
