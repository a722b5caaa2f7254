"""Normalise user callables that may be sync or async, once, where they are registered.

A callable is a function, a `functools.partial` of one, or an instance of a class whose
`__call__` is the code that runs; what counts is that code, so an instance whose
`__call__` is `async def` is async.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal


def call_target(func: Any) -> Any:
    """The code that runs when `func` is called: through `functools.partial` layers, and
    to the bound `__call__` of an instance. A class stays a class (calling it builds an
    instance, whatever its `__call__` is)."""
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.isroutine(func) or isinstance(func, type):
        return func
    return getattr(func, "__call__", func)  # noqa: B004 - callable objects


def is_async_callable(func: Any) -> bool:
    """Whether calling `func` returns a coroutine to await."""
    return inspect.iscoroutinefunction(call_target(func))


def generating_kind(func: Any) -> Literal["async", "sync", False]:
    """ "async" for async generator code, "sync" for generator code, else False."""
    target = call_target(func)
    if inspect.isasyncgenfunction(target):
        return "async"
    if inspect.isgeneratorfunction(target):
        return "sync"
    return False


def callable_name(func: Any) -> str:
    """A task's default name: the function's `__name__`, or the class name of a callable
    instance. A `functools.partial` has no name of its own: its function's name would
    clash with the function's own task, so it must be named."""
    name = getattr(func, "__name__", None)
    if isinstance(name, str):
        return name
    if isinstance(func, functools.partial):
        raise ValueError(
            f"{func!r} has no name of its own: give its task one, e.g. app.task(name=...)"
        )
    return type(func).__name__


async def call_maybe_async(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `func`; await the result when it is awaitable."""
    result = func(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


__all__ = [
    "call_maybe_async",
    "call_target",
    "callable_name",
    "generating_kind",
    "is_async_callable",
]
