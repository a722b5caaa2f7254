"""`Signal`: a versioned wake-up that sync and async waiters in any thread can wait on.

A waiter reads `version`, checks its condition, then waits for a version change, so
no notification between the check and the wait is missed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")


class Signal:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]]] = []

    def notify(self) -> None:
        with self._cond:
            self.version += 1
            futures, self._futures = self._futures, []
            self._cond.notify_all()
        for loop, future in futures:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that loop is closed: its waiter is gone
                pass

    def wait_sync(self, seen: int, timeout: float) -> bool:
        """Block until `version != seen` or `timeout`; True when it changed."""
        with self._cond:
            return self._cond.wait_for(lambda: self.version != seen, timeout)

    async def wait(self, seen: int, timeout: float) -> bool:
        """Await `version != seen` or `timeout`; True when it changed.

        A plain future with a timer rather than `asyncio.wait_for`: on Python 3.11 a
        `wait_for` cancelled just as its future completes can swallow the cancellation,
        and a stopping worker would then wait out the whole fetch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._cond:
            if self.version != seen:
                return True
            self._futures.append((loop, future))
        timer = loop.call_later(timeout, _resolve, future, False)
        try:
            return await future
        finally:
            timer.cancel()
            if not future.done() or future.cancelled():
                with self._cond:
                    try:
                        self._futures.remove((loop, future))
                    except ValueError:
                        pass


@dataclasses.dataclass(slots=True)
class Pause:
    """A wait step: sleep until the signal moves past `seen` or `timeout` passes; the
    step receives True when the signal moved."""

    seen: int
    timeout: float


class Load:
    """A wait step asking the driver to read the awaited record again."""


LOAD = Load()

#: A wait loop written once: yields `Pause` or `LOAD` steps, returns its result; driven
#: by `core.steps.run_sync/run_async` with `waits_sync/waits` as the perform function.
WaitSteps = Generator[Any, Any, T]


def waits_sync(signal: Signal, load: Callable[[], Any] | None = None) -> Callable[[Any], Any]:
    """A `perform` for `core.steps.run_sync` that carries out wait steps for a sync
    caller: `Pause` waits on `signal`, `LOAD` calls `load()`."""

    def perform(step: Any) -> Any:
        if type(step) is Pause:
            return signal.wait_sync(step.seen, step.timeout)
        assert load is not None, step
        return load()

    return perform


def waits(
    signal: Signal, load: Callable[[], Awaitable[Any]] | None = None
) -> Callable[[Any], Awaitable[Any]]:
    """`waits_sync` for `core.steps.run_async`: the same steps for an async caller."""

    async def perform(step: Any) -> Any:
        if type(step) is Pause:
            return await signal.wait(step.seen, step.timeout)
        assert load is not None, step
        return await load()

    return perform


def _resolve(future: asyncio.Future[bool], changed: bool = True) -> None:
    if not future.done():
        future.set_result(changed)


__all__ = ["LOAD", "Pause", "Signal", "WaitSteps", "waits", "waits_sync"]
