"""Lifecycle events: `@app.events.on.worker_running()` and friends.

One `Events` object per app, shared by every component of that app, so a handler
registered on `app.events` fires wherever the event happens. Decorators return the
function itself. Handlers may be sync or async; a failing handler is logged and the
others still run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from qtasks._compat_hook import compat_attribute
from qtasks.core.callables import call_maybe_async, is_async_callable
from qtasks.exc import ConfigError
from qtasks.logs import Logger

F = TypeVar("F", bound=Callable[..., Any])

EVENT_NAMES = (
    "starting",
    "stopping",
    "worker_running",
    "worker_stopping",
    "task_running",
    "task_success",
    "task_error",
    "task_cancel",
    "task_stopping",
)


@dataclasses.dataclass
class EventHandler:
    """An event handler as registered on `app.events` (QTasks 1.7: `InitsExecSchema`)."""

    name: str
    func: Callable[..., Any]
    awaiting: bool = False


class OnEvents:
    """Decorator factories, one per event name."""

    def __init__(self, events: BaseEvents) -> None:
        self._events = events

    def _register(self, name: str) -> Callable[[F], F]:
        def decorator(func: F) -> F:
            self._events.add(name, func)
            return func

        return decorator

    def starting(self) -> Callable[[F], F]:
        return self._register("starting")

    def stopping(self) -> Callable[[F], F]:
        return self._register("stopping")

    def worker_running(self) -> Callable[[F], F]:
        return self._register("worker_running")

    def worker_stopping(self) -> Callable[[F], F]:
        return self._register("worker_stopping")

    def task_running(self) -> Callable[[F], F]:
        return self._register("task_running")

    def task_success(self) -> Callable[[F], F]:
        return self._register("task_success")

    def task_error(self) -> Callable[[F], F]:
        return self._register("task_error")

    def task_cancel(self) -> Callable[[F], F]:
        return self._register("task_cancel")

    def task_stopping(self) -> Callable[[F], F]:
        return self._register("task_stopping")


class BaseEvents:
    def __init__(self, log: Logger | None = None) -> None:
        self.on = OnEvents(self)
        self._handlers: dict[str, list[EventHandler]] = {}
        self.log = log

    def add(self, name: str, func: Callable[..., Any]) -> None:
        if name not in EVENT_NAMES:
            raise ConfigError(f"Unknown event {name!r}; known: {', '.join(EVENT_NAMES)}")
        self._handlers.setdefault(name, []).append(
            EventHandler(name=name, func=func, awaiting=is_async_callable(func))
        )

    def handlers(self, name: str) -> list[EventHandler]:
        return list(self._handlers.get(name, ()))

    def has(self, name: str) -> bool:
        return bool(self._handlers.get(name))

    def count(self) -> int:
        return sum(len(v) for v in self._handlers.values())

    async def fire(self, name: str, *args: Any, **kwargs: Any) -> None:
        for handler in self._handlers.get(name, ()):
            try:
                await call_maybe_async(handler.func, *args, **kwargs)
            except Exception:
                if self.log is not None:
                    self.log.exception("Event handler %r for %r failed", handler.func, name)


class AsyncEvents(BaseEvents):
    """Events of an async app (handlers may be sync or async)."""


class SyncEvents(BaseEvents):
    """Events of a sync app (handlers may be sync or async)."""


__all__ = ["EVENT_NAMES", "AsyncEvents", "BaseEvents", "EventHandler", "OnEvents", "SyncEvents"]


def __getattr__(name: str) -> Any:
    """QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    return compat_attribute(__name__, name)
