"""`SyncTask` / `AsyncTask`: what `@app.task` returns, and pre-built calls.

A task object knows its options and, when it has one, its app. Without an app (a
shared task, a router task before `include_router`) it uses `qtasks._state.app_main`.

For type checkers a task object is generic in its function's parameters `P` and
return type `R`: `add.add_task("x")` is flagged for `def add(a: int, b: int)`, and
`add_task` returns `Task`, or `Task | None` when given `timeout=` (the wait may end
first). A call that also passes `priority=`, `timeout=` or `task_name=` has its task
arguments unchecked: a ParamSpec admits no keyword of its own beside `P.kwargs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from qtasks._state import require_app
from qtasks.core.models import TaskSpec
from qtasks.exc import ConfigError, TaskNotBoundError

if TYPE_CHECKING:
    from qtasks.app.task import Task

P = ParamSpec("P")
R = TypeVar("R")


class BaseTask(Generic[P]):
    """Options of one task (visible as attributes) plus its app, if bound."""

    def __init__(
        self, schema: TaskSpec | str | None = None, app: Any = None, **options: Any
    ) -> None:
        """Built by the task decorators from a `TaskSpec`. QTasks 1.7's form builds a
        handle for a task registered elsewhere (enqueue by name):
        `SyncTask(task_name="report", priority=1, app=app)`; it takes the decorator's
        options plus `extra`, and raises `TypeError` naming any other keyword."""
        if not isinstance(schema, TaskSpec):
            schema = _spec_of_options(schema, options)
        elif options:
            raise TypeError(f"{type(self).__name__}() got unexpected keywords: {sorted(options)}")
        self._schema = schema
        self._app = app
        self.ctx: Any = None

    # Every decorator option is readable on the task object.
    task_name = property(lambda self: self._schema.name)
    name = property(lambda self: self._schema.name)
    priority = property(lambda self: self._schema.priority)
    echo = property(lambda self: self._schema.echo)
    max_time = property(lambda self: self._schema.max_time)
    retry = property(lambda self: self._schema.retry)
    retry_on_exc = property(lambda self: self._schema.retry_on_exc)
    decode = property(lambda self: self._schema.decode)
    tags = property(lambda self: self._schema.tags)
    description = property(lambda self: self._schema.description)
    generate_handler = property(lambda self: self._schema.generate_handler)
    executor = property(lambda self: self._schema.executor)
    middlewares_before = property(lambda self: self._schema.middlewares_before)
    middlewares_after = property(lambda self: self._schema.middlewares_after)
    extra = property(lambda self: self._schema.extra)
    func = property(lambda self: self._schema.func)
    schema = property(lambda self: self._schema)

    @property
    def app(self) -> Any:
        return self._app if self._app is not None else require_app()

    def _bind(self, app: Any) -> None:
        self._app = app

    def _names(self, task_name: str | None) -> str:
        name = task_name or self._schema.name
        if not name:
            raise ConfigError("Task name is not specified: pass task_name=")
        return name

    def __repr__(self) -> str:
        bound = getattr(self._app, "name", None)
        return f"<{type(self).__name__} {self._schema.name!r} app={bound!r}>"


class SyncTask(BaseTask[P], Generic[P, R]):
    """A task of a sync app: `add_task` and `enqueue` are plain calls."""

    @property
    def func(self) -> Callable[P, R]:
        """The decorated function."""
        return self._schema.func

    @overload
    def enqueue(
        self,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        priority: int | None = None,
        delay: float | None = None,
        eta: Any = None,
        queue: str | None = None,
        timeout: float | None,
    ) -> Task | None: ...
    @overload
    def enqueue(
        self,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        priority: int | None = None,
        delay: float | None = None,
        eta: Any = None,
        queue: str | None = None,
    ) -> Task: ...
    def enqueue(
        self,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        priority: int | None = None,
        delay: float | None = None,
        eta: Any = None,
        queue: str | None = None,
        timeout: float | None = None,
    ) -> Task | None:
        """Like `app.enqueue(self.task_name, ...)`: every option, no reserved kwargs."""
        flow = self.app._enqueue_flow(
            self._schema.name,
            args,
            kwargs,
            self._schema.priority if priority is None else priority,
            delay,
            eta,
            queue,
            timeout,
        )
        result: Task | None = self.app._run_sync(flow)
        return result

    # With `timeout=` the result may be None; with the other options the task arguments
    # go unchecked (see the module docstring); without options they are checked.
    @overload
    def add_task(  # type: ignore[overload-overlap]
        self,
        *args: Any,
        timeout: float | None,
        priority: int | None = None,
        task_name: str | None = None,
        **kwargs: Any,
    ) -> Task | None: ...
    @overload
    def add_task(
        self, *args: Any, priority: int | None, task_name: str | None = None, **kwargs: Any
    ) -> Task: ...
    @overload
    def add_task(self, *args: Any, task_name: str | None, **kwargs: Any) -> Task: ...
    @overload
    def add_task(self, *args: P.args, **kwargs: P.kwargs) -> Task: ...
    def add_task(  # type: ignore[misc]  # P.kwargs could hold `timeout`: see above
        self,
        *args: Any,
        priority: int | None = None,
        timeout: float | None = None,
        task_name: str | None = None,
        **kwargs: Any,
    ) -> Task | None:
        """Enqueue this task; with `timeout`, wait for and return the finished Task."""
        result: Task | None = self.app._add_task_sync(
            self._names(task_name),
            args,
            kwargs,
            priority=self._schema.priority if priority is None else priority,
            timeout=timeout,
        )
        return result

    @overload
    def __call__(
        self,
        *args: Any,
        timeout: float | None,
        priority: int | None = None,
        task_name: str | None = None,
        **kwargs: Any,
    ) -> SyncTaskCls: ...
    @overload
    def __call__(
        self, *args: Any, priority: int | None, task_name: str | None = None, **kwargs: Any
    ) -> SyncTaskCls: ...
    @overload
    def __call__(self, *args: Any, task_name: str | None, **kwargs: Any) -> SyncTaskCls: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> SyncTaskCls: ...
    def __call__(  # type: ignore[misc]  # as add_task
        self,
        *args: Any,
        priority: int | None = None,
        timeout: float | None = None,
        task_name: str | None = None,
        **kwargs: Any,
    ) -> SyncTaskCls:
        """A pre-built call: `task(1, 2).add_task()`."""
        result: SyncTaskCls = SyncTaskCls(
            task_name or self._schema.name,
            self._schema.priority if priority is None else priority,
            timeout,
            args,
            kwargs,
        )._bind(self)
        return result


class AsyncTask(BaseTask[P], Generic[P, R]):
    """A task of an async app: `add_task` and `enqueue` are coroutines."""

    @property
    def func(self) -> Callable[P, R]:
        """The decorated function."""
        return self._schema.func

    @overload
    async def enqueue(
        self,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        priority: int | None = None,
        delay: float | None = None,
        eta: Any = None,
        queue: str | None = None,
        timeout: float | None,
    ) -> Task | None: ...
    @overload
    async def enqueue(
        self,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        priority: int | None = None,
        delay: float | None = None,
        eta: Any = None,
        queue: str | None = None,
    ) -> Task: ...
    async def enqueue(
        self,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        priority: int | None = None,
        delay: float | None = None,
        eta: Any = None,
        queue: str | None = None,
        timeout: float | None = None,
    ) -> Task | None:
        """Like `app.enqueue(self.task_name, ...)`: every option, no reserved kwargs."""
        flow = self.app._enqueue_flow(
            self._schema.name,
            args,
            kwargs,
            self._schema.priority if priority is None else priority,
            delay,
            eta,
            queue,
            timeout,
        )
        result: Task | None = await self.app._run_async(flow)
        return result

    # With `timeout=` the result may be None; with the other options the task arguments
    # go unchecked (see the module docstring); without options they are checked.
    @overload
    async def add_task(  # type: ignore[overload-overlap]
        self,
        *args: Any,
        timeout: float | None,
        priority: int | None = None,
        task_name: str | None = None,
        **kwargs: Any,
    ) -> Task | None: ...
    @overload
    async def add_task(
        self, *args: Any, priority: int | None, task_name: str | None = None, **kwargs: Any
    ) -> Task: ...
    @overload
    async def add_task(self, *args: Any, task_name: str | None, **kwargs: Any) -> Task: ...
    @overload
    async def add_task(self, *args: P.args, **kwargs: P.kwargs) -> Task: ...
    async def add_task(  # type: ignore[misc]  # P.kwargs could hold `timeout`: see above
        self,
        *args: Any,
        priority: int | None = None,
        timeout: float | None = None,
        task_name: str | None = None,
        **kwargs: Any,
    ) -> Task | None:
        """Enqueue this task; with `timeout`, wait for and return the finished Task."""
        result: Task | None = await self.app._add_task_async(
            self._names(task_name),
            args,
            kwargs,
            priority=self._schema.priority if priority is None else priority,
            timeout=timeout,
        )
        return result

    @overload
    def __call__(
        self,
        *args: Any,
        timeout: float | None,
        priority: int | None = None,
        task_name: str | None = None,
        **kwargs: Any,
    ) -> AsyncTaskCls: ...
    @overload
    def __call__(
        self, *args: Any, priority: int | None, task_name: str | None = None, **kwargs: Any
    ) -> AsyncTaskCls: ...
    @overload
    def __call__(self, *args: Any, task_name: str | None, **kwargs: Any) -> AsyncTaskCls: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> AsyncTaskCls: ...
    def __call__(  # type: ignore[misc]  # as add_task
        self,
        *args: Any,
        priority: int | None = None,
        timeout: float | None = None,
        task_name: str | None = None,
        **kwargs: Any,
    ) -> AsyncTaskCls:
        result: AsyncTaskCls = AsyncTaskCls(
            task_name or self._schema.name,
            self._schema.priority if priority is None else priority,
            timeout,
            args,
            kwargs,
        )._bind(self)
        return result


#: Options every task decorator accepts.
TASK_OPTIONS = (
    "priority",
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
)
#: QTasks 1.7's `AsyncTask`/`SyncTask` constructor keywords beside `task_name` and `app`.
_HANDLE_OPTIONS = frozenset((*TASK_OPTIONS, "extra"))


def _spec_of_options(task_name: str | None, options: dict[str, Any]) -> TaskSpec:
    name = task_name if task_name is not None else options.pop("task_name", None)
    unknown = set(options) - _HANDLE_OPTIONS
    if unknown:
        raise TypeError(
            f"Task handle got unexpected keywords {sorted(unknown)}; it takes task_name, app "
            f"and the decorator's options ({', '.join(sorted(_HANDLE_OPTIONS))})"
        )

    def not_in_this_process(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"Task {name!r} has no function in this process: it runs on the workers "
            "where it is registered"
        )

    return TaskSpec(
        priority=int(options.get("priority") or 0),
        name=name or "",
        func=not_in_this_process,
        echo=bool(options.get("echo", False)),
        max_time=options.get("max_time"),
        retry=options.get("retry"),
        retry_on_exc=options.get("retry_on_exc"),
        decode=options.get("decode"),
        tags=options.get("tags"),
        description=options.get("description"),
        generate_handler=options.get("generate_handler"),
        executor=options.get("executor"),
        middlewares_before=list(options.get("middlewares_before") or []),
        middlewares_after=list(options.get("middlewares_after") or []),
        extra=dict(options.get("extra") or {}),
    )


@dataclasses.dataclass
class BaseTaskCls:
    """A call prepared but not sent: `.add_task()` sends it."""

    task_name: str | None = None
    priority: int | None = None
    timeout: float | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    _task_deco: Any = dataclasses.field(default=None, repr=False)

    def _bind(self, deco: Any) -> Any:
        self._task_deco = deco
        return self

    def bind(self, deco: Any) -> Any:
        return self._bind(deco)

    def _deco(self) -> Any:
        if self._task_deco is None:
            raise TaskNotBoundError("This call is not bound to a task; use task(...) to build it")
        return self._task_deco


class SyncTaskCls(BaseTaskCls):
    def add_task(self, timeout: float | None = None) -> Task | None:
        result: Task | None = self._deco().add_task(
            *self.args,
            task_name=self.task_name,
            priority=self.priority,
            timeout=self.timeout if timeout is None else timeout,
            **self.kwargs,
        )
        return result


class AsyncTaskCls(BaseTaskCls):
    async def add_task(self, timeout: float | None = None) -> Task | None:
        result: Task | None = await self._deco().add_task(
            *self.args,
            task_name=self.task_name,
            priority=self.priority,
            timeout=self.timeout if timeout is None else timeout,
            **self.kwargs,
        )
        return result


__all__ = [
    "AsyncTask",
    "AsyncTaskCls",
    "BaseTask",
    "BaseTaskCls",
    "SyncTask",
    "SyncTaskCls",
    "TASK_OPTIONS",
]
