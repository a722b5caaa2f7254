"""Normalise user callables that may be sync or async."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def is_async_callable(func: Any) -> bool:
    while hasattr(func, "func") and not inspect.isfunction(func):  # functools.partial
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


async def call_maybe_async(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `func`; await the result when it is awaitable."""
    result = func(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


__all__ = ["call_maybe_async", "is_async_callable"]
