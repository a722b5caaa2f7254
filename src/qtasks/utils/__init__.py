"""App-less helpers: `get_app()`, `@shared_task`. QTasks 1.7's `AsyncTaskUtils` and
`SyncTaskUtils` still import from here; they live in `qtasks.compat`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, overload

from qtasks import _state
from qtasks._compat_hook import compat_attribute
from qtasks.core.models import TaskSpec
from qtasks.registries.build import (
    AsyncResult,
    AsyncTaskDecorator,
    EitherTaskDecorator,
    SharedTaskDecorator,
    SyncTaskDecorator,
    decorate,
)
from qtasks.registries.registry import TaskRegistry
from qtasks.registries.task import AsyncTask, BaseTask, P, R, SyncTask


def get_app() -> Any:
    """The process's default app (`qtasks._state.app_main`), or None."""
    return _state.app_main


@overload
def shared_task(  # type: ignore[overload-overlap]
    name: Callable[P, AsyncResult], /
) -> AsyncTask[P, AsyncResult]: ...
@overload
def shared_task(name: Callable[P, R], /) -> SyncTask[P, R]: ...
@overload
def shared_task(
    name: str | None = None, *, awaiting: Literal[True], **options: Any
) -> AsyncTaskDecorator: ...
@overload
def shared_task(
    name: str | None = None, *, awaiting: Literal[False], **options: Any
) -> SyncTaskDecorator: ...
@overload
def shared_task(
    name: str | None = None, *, awaiting: None = None, **options: Any
) -> SharedTaskDecorator: ...
@overload
def shared_task(
    name: str | None = None, *, awaiting: bool | None = None, **options: Any
) -> EitherTaskDecorator: ...
def shared_task(name: Any = None, *, awaiting: bool | None = None, **options: Any) -> Any:
    """A task usable by any app: the worker of whichever app runs it finds it by name.

    Returns a `SyncTask`, or an `AsyncTask` when `awaiting=True` (or, when `awaiting`
    is not given, when the function is a coroutine function).
    """

    def register(schema: TaskSpec) -> BaseTask[Any]:
        is_async = schema.awaiting if awaiting is None else awaiting
        handle: BaseTask[Any] = AsyncTask(schema) if is_async else SyncTask(schema)
        TaskRegistry.register_schema(schema, handle)
        return handle

    return decorate(name, options, 0, register)


__all__ = ["get_app", "shared_task"]


def __getattr__(name: str) -> Any:
    """QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    return compat_attribute(__name__, name)
