"""The registry of shared tasks (`@shared_task`), and an app's view of its tasks.

A shared task belongs to every app in the process: `app.tasks` (a `TaskTable`) lists
the app's own tasks, then each shared task it has no own task of that name for, looked
up at each access, so a shared task imported before or after the app was created is
seen the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, TypeVar, overload

from qtasks.core.models import TaskSpec
from qtasks.exc import ConfigError
from qtasks.registries.task import BaseTask

_T = TypeVar("_T")


class TaskRegistry:
    _tasks: dict[str, TaskSpec] = {}
    _handles: dict[str, BaseTask[Any]] = {}

    @classmethod
    def register_schema(cls, schema: TaskSpec, handle: BaseTask[Any]) -> None:
        if schema.name in cls._tasks and cls._tasks[schema.name].func is not schema.func:
            raise ConfigError(f"Task with name {schema.name} is already registered!")
        cls._tasks[schema.name] = schema
        cls._handles[schema.name] = handle

    @classmethod
    def get_task(cls, name: str) -> TaskSpec | None:
        return cls._tasks.get(name)

    @classmethod
    def all_tasks(cls) -> dict[str, TaskSpec]:
        return dict(cls._tasks)

    @classmethod
    def clear(cls) -> None:
        cls._tasks.clear()
        cls._handles.clear()


class TaskTable(MutableMapping[str, TaskSpec]):
    """`app.tasks`: the app's own tasks (`own`), then the shared ones it does not shadow.

    Writes and deletes touch only the app's own tasks; an own task of a shared task's
    name wins over it.
    """

    __slots__ = ("own",)

    def __init__(self) -> None:
        self.own: dict[str, TaskSpec] = {}

    def __getitem__(self, name: str) -> TaskSpec:
        schema = self.own.get(name)
        if schema is None:
            return TaskRegistry._tasks[name]
        return schema

    @overload
    def get(self, name: str, /) -> TaskSpec | None: ...
    @overload
    def get(self, name: str, default: TaskSpec | _T, /) -> TaskSpec | _T: ...
    def get(self, name: str, default: Any = None, /) -> Any:
        # The lookup on every enqueue and every run: no exception on a miss.
        schema = self.own.get(name)
        if schema is None:
            schema = TaskRegistry._tasks.get(name)
        return default if schema is None else schema

    def __contains__(self, name: object) -> bool:
        return name in self.own or name in TaskRegistry._tasks

    def __setitem__(self, name: str, schema: TaskSpec) -> None:
        self.own[name] = schema

    def __delitem__(self, name: str) -> None:
        del self.own[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.own
        yield from (name for name in list(TaskRegistry._tasks) if name not in self.own)

    def __len__(self) -> int:
        return len(self.own) + sum(1 for name in TaskRegistry._tasks if name not in self.own)

    def copy(self) -> dict[str, TaskSpec]:
        """A plain dict of the tasks as they are now."""
        return dict(self.items())

    def __repr__(self) -> str:
        return f"TaskTable({self.copy()!r})"


__all__ = ["TaskRegistry", "TaskTable"]
