"""The one sans-I/O step driver.

An operation that must run for sync and async callers alike is written once, as a
generator that yields *steps* (plain objects saying what I/O it needs) and receives each
step's result. `run_sync` and `run_async` drive such a flow with a `perform` function
that knows how to carry a step out: the app's client operations (backend calls and
plugin hooks), the backends' waits and Redis command flows, and chains all use it.
An error raised by `perform` propagates to the caller; the flow is closed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")

#: A flow: yields steps, receives their results, returns its value (of type `T`).
Flow = Generator[Any, Any, T]


def run_sync(flow: Generator[Any, Any, T], perform: Callable[[Any], Any]) -> T:
    """Drive `flow` to its end, carrying out each step with `perform(step)`."""
    result: Any = None
    try:
        while True:
            result = perform(flow.send(result))
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        flow.close()


async def run_async(flow: Generator[Any, Any, T], perform: Callable[[Any], Awaitable[Any]]) -> T:
    """Drive `flow` to its end, carrying out each step with `await perform(step)`."""
    result: Any = None
    try:
        while True:
            result = await perform(flow.send(result))
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        flow.close()


# --- the app's client-operation steps ---------------------------------------------------------
@dataclasses.dataclass(slots=True)
class Call:
    """Call backend method `method` (its `<method>_sync` twin for sync callers)."""

    method: str
    args: tuple[Any, ...]


@dataclasses.dataclass(slots=True)
class Hook:
    """Run the plugins listening to hook `name` with these keyword arguments; the step's
    result is the dict of what they changed."""

    name: str
    kwargs: dict[str, Any]


__all__ = ["Call", "Flow", "Hook", "run_async", "run_sync"]
