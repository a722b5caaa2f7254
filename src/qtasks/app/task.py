"""`Task`: what `app.get()` and `add_task()` return to users; `DeadLetter`: what
`app.dead_letters()` lists."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from uuid import UUID

from qtasks.core.models import DeadLetter


@dataclasses.dataclass
class Task:
    status: str
    uuid: UUID
    priority: int
    task_name: str
    args: tuple[Any, ...] | list[Any]
    kwargs: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    returning: Any = None
    traceback: Any = None
    retry: int | None = None
    retry_child_uuid: Any = None
    retry_parent_uuid: Any = None
    #: Any other stored field (e.g. `cancel_reason`), also readable as an attribute.
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    #: The queue it was routed to.
    queue: str = "default"
    #: How many times a worker has fetched it (deliveries not given back).
    attempts: int = 0
    #: What the task last reported with `self.ctx.set_progress()`: {"value": 0.0..1.0,
    #: "message": str | None, "at": epoch seconds}; None when it reported nothing.
    progress: dict[str, Any] | None = None

    def __getattr__(self, key: str) -> Any:
        extra = self.__dict__.get("extra")
        if extra is not None and key in extra:
            return extra[key]
        raise AttributeError(f"Task has no field {key!r}")

    def wait_result(self, timeout: float = 100.0) -> Task | None:
        """Wait (sync) for this task's final state through the default app."""
        from qtasks._state import require_app

        result: Task | None = require_app()._wait_sync(str(self.uuid), timeout)
        return result

    async def wait_result_async(self, timeout: float = 100.0) -> Task | None:
        """Wait (async) for this task's final state through the default app."""
        from qtasks._state import require_app

        result: Task | None = await require_app()._wait_async(str(self.uuid), timeout)
        return result


__all__ = ["DeadLetter", "Task"]
