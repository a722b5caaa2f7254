"""Turning a decorated function into a `TaskSpec` (no I/O, no app), and the
types of the task decorators (`@app.task`, `@router.task`, `@shared_task`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from qtasks.core.callables import callable_name, generating_kind, is_async_callable
from qtasks.core.models import TaskSpec
from qtasks.core.records import check_task_name
from qtasks.engine.processes import PROCESS, check_isolation, process_target
from qtasks.exc import ArgumentTypeError, ConfigError
from qtasks.registries.task import TASK_OPTIONS, AsyncTask, P, R, SyncTask

if TYPE_CHECKING:
    from qtasks.app.task import Task

#: What an async function (or async generator function) returns when called.
AsyncResult = TypeVar("AsyncResult", bound=Coroutine[Any, Any, Any] | AsyncIterator[Any])


def check_max_deliveries(value: Any) -> int:
    """`max_deliveries` of a task: an int >= 1, else a `ConfigError` saying so."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"max_deliveries must be an int >= 1 (deliveries without a report back before "
            f"the task is dead-lettered), got {value!r}; e.g. @app.task(max_deliveries=3)"
        )
    return value


def build_schema(
    func: Callable[..., Any], name: str | None, priority: int, options: dict[str, Any]
) -> TaskSpec:
    if not callable(func):
        raise ArgumentTypeError(f"@task needs a function, got {func!r}")
    extra = {k: v for k, v in options.items() if k not in TASK_OPTIONS}
    known = {k: v for k, v in options.items() if k in TASK_OPTIONS and k != "priority"}
    if known.get("retry") is not None and int(known["retry"]) < 0:
        raise ConfigError("retry must be >= 0")
    if known.get("max_time") is not None and float(known["max_time"]) <= 0:
        raise ConfigError("max_time must be > 0 seconds")
    if "max_deliveries" in extra:
        check_max_deliveries(extra["max_deliveries"])
    generating = generating_kind(func)
    task_name = check_task_name(name if name is not None else callable_name(func))
    # Async code (functions, partials of them, instances with `async def __call__`)
    # runs on the loop; anything else on a thread, or in a child process.
    awaiting = is_async_callable(func) or generating == "async"
    echo = bool(known.get("echo", False))
    if extra.get("isolation") is not None:
        _check_isolation(func, task_name, extra["isolation"], awaiting, generating, echo)
    return TaskSpec(
        priority=priority,
        name=task_name,
        func=func,
        awaiting=awaiting,
        generating=generating,
        echo=echo,
        max_time=known.get("max_time"),
        retry=known.get("retry"),
        retry_on_exc=list(known["retry_on_exc"]) if known.get("retry_on_exc") else None,
        decode=known.get("decode"),
        tags=list(known["tags"]) if known.get("tags") else None,
        description=known.get("description"),
        generate_handler=known.get("generate_handler"),
        executor=known.get("executor"),
        middlewares_before=list(known.get("middlewares_before") or []),
        middlewares_after=list(known.get("middlewares_after") or []),
        extra=extra,
    )


def _check_isolation(
    func: Any, name: str, isolation: Any, awaiting: bool, generating: Any, echo: bool
) -> None:
    """`isolation="process"` is for a sync function a fresh process can import."""
    if check_isolation(isolation) != PROCESS:
        return
    if awaiting:
        raise ConfigError(
            f"Task {name!r} is async: it runs on the worker's event loop, and "
            "isolation='process' applies to sync functions only; remove the option"
        )
    if generating:
        raise ConfigError(
            f"Task {name!r} is a generator: isolation='process' runs plain sync functions "
            "only; return a list instead, or remove the option"
        )
    if echo:
        raise ConfigError(
            f"Task {name!r} has echo=True: its `self` (task object, ctx, app) cannot cross "
            "to a child process; drop echo=True or isolation='process'"
        )
    # A script may define the tasks that a worker imports as a module: `__main__` is
    # refused when such a task runs, not here.
    process_target(func, name, main_ok=True)


def decorate(
    name: Any,
    options: dict[str, Any],
    default_priority: int,
    register: Callable[[TaskSpec], Any],
) -> Any:
    """Shared body of `@app.task`, `@router.task` and `@shared_task`, bare or called.

    `name` is the decorator's first argument: the function itself when used bare,
    otherwise the task name (or None).
    """
    priority = options.get("priority")
    prio = default_priority if priority is None else int(priority)

    def wrap(func: Callable[..., Any], task_name: str | None) -> Any:
        return register(build_schema(func, task_name, prio, options))

    if callable(name) and not isinstance(name, str):
        return wrap(name, None)
    if name is not None:
        check_task_name(name)
    return lambda func: wrap(func, name)


# --- types of the decorators ----------------------------------------------------------------


class SyncAppLike(Protocol):
    """An app whose `add_task` is a plain call (`qtasks.QueueTasks`)."""

    def add_task(self, task_name: str, /, *args: Any, **kwargs: Any) -> Task | None: ...


class AsyncAppLike(Protocol):
    """An app whose `add_task` is a coroutine (`qtasks.asyncio.QueueTasks`)."""

    def add_task(self, task_name: str, /, *args: Any, **kwargs: Any) -> Awaitable[Task | None]: ...


class SyncTaskDecorator(Protocol):
    """`@app.task(...)` with options, on a sync app or `SyncRouter`."""

    def __call__(self, func: Callable[P, R], /) -> SyncTask[P, R]: ...


class AsyncTaskDecorator(Protocol):
    """`@app.task(...)` with options, on an async app or `AsyncRouter`."""

    def __call__(self, func: Callable[P, R], /) -> AsyncTask[P, R]: ...


class SharedTaskDecorator(Protocol):
    """`@shared_task(...)` with options: an async task for an async function."""

    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, func: Callable[P, AsyncResult], /
    ) -> AsyncTask[P, AsyncResult]: ...
    @overload
    def __call__(self, func: Callable[P, R], /) -> SyncTask[P, R]: ...


class EitherTaskDecorator(Protocol):
    """`@shared_task(awaiting=flag)` with a flag known only when it runs."""

    def __call__(self, func: Callable[P, R], /) -> SyncTask[P, R] | AsyncTask[P, R]: ...


__all__ = [
    "TASK_OPTIONS",
    "AsyncAppLike",
    "AsyncTaskDecorator",
    "EitherTaskDecorator",
    "SharedTaskDecorator",
    "SyncAppLike",
    "SyncTaskDecorator",
    "build_schema",
    "check_max_deliveries",
    "check_task_name",
    "decorate",
    "generating_kind",
]
