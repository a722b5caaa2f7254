"""The engine's injection point: where argument injectors (Pydantic models, `Depends`,
`State`) keep state, declared rather than found.

- `WorkerResources`, one per worker (`worker.resources`, handed to each execution as
  `executor.resources`): values that live as long as the worker, and closers the worker
  awaits when it stops.
- `ExecutionScope`, one per execution (`executor.injection`): what the injectors of one
  call share while they bind arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtasks.core.runtime import Log


class WorkerResources:
    """Long-lived state of one worker, keyed by its owner (an injector class, usually)."""

    def __init__(self) -> None:
        self._values: dict[Any, Any] = {}
        self._closers: list[tuple[str, Callable[[], Awaitable[None]]]] = []

    def get(self, key: Any, factory: Callable[[], Any]) -> Any:
        """The value stored under `key`, created by `factory()` on first use."""
        try:
            return self._values[key]
        except KeyError:
            value = self._values[key] = factory()
            return value

    def on_close(self, label: str, closer: Callable[[], Awaitable[None]]) -> None:
        """Await `closer()` when the worker stops (last registered, first closed)."""
        self._closers.append((label, closer))

    async def close(self, log: Log | None = None) -> None:
        """Run the closers; one that fails is logged and the others still run."""
        closers, self._closers = self._closers, []
        for label, closer in reversed(closers):
            try:
                await closer()
            except Exception:
                if log is not None:
                    log.exception("Closing %s failed", label)
        self._values.clear()


@dataclasses.dataclass
class ExecutionScope:
    """What the injectors of one execution share."""

    #: Injector classes that already ran for this call (one registered by hand too).
    ran: set[type] = dataclasses.field(default_factory=set)
    #: Parameters whose injected value was moved into the positional arguments.
    placed: set[str] = dataclasses.field(default_factory=set)


__all__ = ["ExecutionScope", "WorkerResources"]
