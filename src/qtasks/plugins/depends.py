"""`Depends`: values a task receives from setup code the worker runs for it, with
teardown that always runs.

A parameter is a dependency when its default is `Depends(f)`, when its annotation is
`Annotated[T, ..., Depends(f)]` (the last `Depends` in the metadata), or when its
annotation is a `Depends(f)` itself. The value is passed by parameter name.

What `f` may be (the worker checks in this order):

- not callable: the value itself (an awaitable is awaited);
- an `@asynccontextmanager` function, or any callable returning an async context
  manager: entered, exited at teardown;
- a coroutine function (or a callable returning an awaitable): its awaited result;
- an async generator function: its first value; the code after `yield` runs at teardown;
- a `@contextmanager` function, or any callable returning a context manager: entered,
  exited at teardown;
- a sync generator function: its first value; the code after `yield` runs at teardown;
- any other callable: its return value.

Sync dependency code (calling `f`, entering/exiting a sync context manager, stepping a
generator) runs in the worker's thread pool, like sync tasks, so it never blocks the
event loop; async dependency code runs on the loop.

Scopes: `TASK` (the default) opens for one execution and closes when it ends, whether
it succeeded, failed or was cancelled; each execution closes only its own dependencies.
`WORKER` opens once per worker (per dependency function) and closes when the worker
stops. The broker, storage and global config are one backend that lives exactly as long
as the worker, so `BROKER`, `STORAGE` and `GLOBAL_CONFIG` behave like `WORKER`.
Teardown errors are logged; they do not change the task's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import Executor
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from qtasks._compat_hook import compat_attribute
from qtasks.core.callables import is_async_callable
from qtasks.engine.threads import run_in_pool
from qtasks.exc import DependencyError
from qtasks.plugins._injection import (
    ARGS_REPLACE,
    TASK_CLOSE,
    Injector,
    Param,
)

if TYPE_CHECKING:
    from qtasks.core.runtime import Log
    from qtasks.engine.executor import TaskExecutor


class ScopeEnum(str, Enum):
    """How long a dependency's value lives."""

    TASK = "task"
    WORKER = "worker"
    BROKER = "broker"
    STORAGE = "storage"
    GLOBAL_CONFIG = "global_config"


class Depends:
    """Mark a task parameter as provided by `func` (see the module docs)."""

    __slots__ = ("func", "scope")

    def __init__(self, func: Any, scope: ScopeEnum | str = ScopeEnum.TASK) -> None:
        self.func = func
        self.scope = ScopeEnum(scope)

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", None) or repr(self.func)
        return f"Depends({name}, scope={self.scope.value!r})"


def depends_of(param: Param) -> Depends | None:
    """The `Depends` a parameter declares, if any."""
    for item in reversed(param.metadata):
        if isinstance(item, Depends):
            return item
    for candidate in (param.default, param.raw, param.annotation):
        if isinstance(candidate, Depends):
            return candidate
    return None


class DependsPlugin(Injector):
    """Opens a task's dependencies before it runs and closes them after."""

    TRIGGERS: ClassVar[tuple[str, ...]] = (ARGS_REPLACE, TASK_CLOSE)

    def __init__(self, name: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(name, *args, **kwargs)
        # One exit stack per running execution, by task uuid: a task closes only its own.
        self._open: dict[str, contextlib.AsyncExitStack] = {}

    @classmethod
    def owns(cls, param: Param) -> bool:
        return depends_of(param) is not None

    async def inject(
        self,
        executor: TaskExecutor,
        params: tuple[Param, ...],
        args: list[Any],
        kw: dict[str, Any],
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        stack = self._open.setdefault(executor.record.uuid, contextlib.AsyncExitStack())
        for param in params:
            dep = depends_of(param)
            if dep is None:
                continue
            if dep.scope is ScopeEnum.TASK:
                values[param.name] = await resolve(dep, stack, executor.pool)
            else:
                values[param.name] = await _long_lived(executor, dep, stack)
        return values

    async def close(self, executor: TaskExecutor) -> None:
        stack = self._open.pop(executor.record.uuid, None)
        if stack is not None:
            await _close(stack, executor.log, f"task {executor.record.uuid}")


# --- opening one dependency -------------------------------------------------------------------
async def resolve(dep: Depends, stack: contextlib.AsyncExitStack, pool: Executor | None) -> Any:
    """The value of `dep`, with its teardown pushed on `stack`."""
    target = dep.func
    if not callable(target):
        return await target if inspect.isawaitable(target) else target
    if _runs_on_loop(target):
        obj = target()
    else:
        kind, obj, value = await run_in_pool(pool, _sync_setup, target)
        if kind == "cm":
            stack.push_async_callback(run_in_pool, pool, obj.__exit__, None, None, None)
            return value
        if kind == "gen":
            stack.push_async_callback(run_in_pool, pool, _finish_generator, obj)
            return value
    if _is_async_cm(obj):
        return await stack.enter_async_context(obj)
    if inspect.isasyncgen(obj):
        try:
            value = await obj.__anext__()
        except StopAsyncIteration:
            raise DependencyError(f"Dependency {target!r} did not yield a value") from None
        stack.push_async_callback(_finish_async_generator, obj)
        return value
    if inspect.isawaitable(obj):
        return await obj
    return obj


def _runs_on_loop(func: Any) -> bool:
    """Async dependency code: coroutine functions, async generator functions and
    `@asynccontextmanager` functions (their call only builds an object)."""
    if is_async_callable(func):
        return True
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.isasyncgenfunction(func):
        return True
    try:
        return inspect.isasyncgenfunction(inspect.unwrap(func))
    except ValueError:
        return False


def _is_async_cm(obj: Any) -> bool:
    return hasattr(obj, "__aenter__") and hasattr(obj, "__aexit__")


def _sync_setup(target: Callable[[], Any]) -> tuple[str, Any, Any]:
    """In a pool thread: call `target` and enter what it returned, if sync."""
    obj = target()
    if _is_async_cm(obj) or inspect.isasyncgen(obj) or inspect.isawaitable(obj):
        return "async", obj, None
    if hasattr(obj, "__enter__") and hasattr(obj, "__exit__"):
        return "cm", obj, obj.__enter__()
    if inspect.isgenerator(obj):
        try:
            return "gen", obj, next(obj)
        except StopIteration:
            raise DependencyError(f"Dependency {target!r} did not yield a value") from None
    return "value", obj, obj


def _finish_generator(gen: Any) -> None:
    try:
        next(gen)
    except StopIteration:
        return
    gen.close()
    raise DependencyError(f"Dependency generator {gen!r} yielded more than once")


async def _finish_async_generator(agen: Any) -> None:
    try:
        await agen.__anext__()
    except StopAsyncIteration:
        return
    await agen.aclose()
    raise DependencyError(f"Dependency generator {agen!r} yielded more than once")


async def _close(stack: contextlib.AsyncExitStack, log: Log, what: str) -> None:
    try:
        await stack.aclose()
    except Exception:
        log.exception("Closing the dependencies of %s failed", what)


# --- worker scope -------------------------------------------------------------------------------
class _WorkerScope:
    """Dependencies opened once for one worker, closed when it stops."""

    def __init__(self, pool: Executor | None) -> None:
        self.pool = pool
        self.stack = contextlib.AsyncExitStack()
        self.values: dict[tuple[ScopeEnum, int], tuple[Any, Any]] = {}  # key -> (func, value)
        self.locks: dict[tuple[ScopeEnum, int], asyncio.Lock] = {}


async def _long_lived(
    executor: TaskExecutor, dep: Depends, task_stack: contextlib.AsyncExitStack
) -> Any:
    resources = executor.resources
    if resources is None:  # an executor run outside a worker: nothing outlives the task
        return await resolve(dep, task_stack, executor.pool)
    scope: _WorkerScope = resources.get(_WorkerScope, lambda: _new_scope(executor))
    key = (dep.scope, id(dep.func))
    if key not in scope.values:
        async with scope.locks.setdefault(key, asyncio.Lock()):
            if key not in scope.values:
                value = await resolve(dep, scope.stack, scope.pool)
                scope.values[key] = (dep.func, value)  # keeps func alive: its id stays unique
    return scope.values[key][1]


def _new_scope(executor: TaskExecutor) -> _WorkerScope:
    """A worker's scope, closed by the worker when it stops (its resources' closers)."""
    scope = _WorkerScope(executor.pool)
    assert executor.resources is not None
    executor.resources.on_close("worker-scope dependencies", scope.stack.aclose)
    return scope


#: QTasks 1.7's submodule paths beneath this module (`.async_depends`, `.enums`, ...)
#: import too: the compat finder serves them, and submodules need a `__path__`.
__path__: list[str] = []

__all__ = [
    "Depends",
    "DependsPlugin",
    "ScopeEnum",
    "depends_of",
    "resolve",
]


def __getattr__(name: str) -> Any:
    """QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    return compat_attribute(__name__, name)
