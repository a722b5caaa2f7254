"""The process's one portal: an event-loop thread that lets sync code call async code.

Every sync caller shares it (the sync facade for backends whose driver is async-only,
sync plugin hooks with an async plugin method). It starts on first use and is fork-safe:
a child process that inherited it starts its own on first use. A sync call interrupted
by an exception in the calling thread (Ctrl+C in `wait()`) cancels its coroutine.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from qtasks.exc import EngineError

T = TypeVar("T")


class Portal:
    def __init__(self, name: str = "qtasks-portal") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _ensure(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                ready = threading.Event()
                new_loop = asyncio.new_event_loop()

                def run() -> None:
                    asyncio.set_event_loop(new_loop)
                    new_loop.call_soon(ready.set)
                    new_loop.run_forever()

                threading.Thread(target=run, name=self._name, daemon=True).start()
                ready.wait()
                self._loop, self._pid = new_loop, os.getpid()
            return self._loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._ensure()

    def call(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run `await func(*args, **kwargs)` on the portal loop and return its result."""
        return self.wait(_as_coro(func, args, kwargs))

    def wait(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` on the portal loop from a sync caller."""
        loop = self._ensure()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise EngineError("a sync call from the portal's own loop would deadlock")
        finished = threading.Event()

        async def run() -> T:
            try:
                return await awaitable
            finally:
                finished.set()

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        try:
            return future.result()
        except BaseException:
            if not future.done():  # interrupted here (Ctrl+C): stop the coroutine too
                future.cancel()
                finished.wait(1.0)
            raise

    def stop(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None and self._pid == os.getpid():
            loop.call_soon_threadsafe(loop.stop)


async def _as_coro(func: Callable[..., Awaitable[T]], args: Any, kwargs: Any) -> T:
    return await func(*args, **kwargs)


_PORTAL = Portal()


def portal() -> Portal:
    """The process's portal (started on first use)."""
    return _PORTAL


__all__ = ["Portal", "portal"]
