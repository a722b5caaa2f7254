"""The data every room shares: a task as declared (`TaskSpec`), as stored
(`TaskRecord`), as leased to a worker (`Delivery`) and as finished (`Completion`).

Plain dataclasses, no I/O. Times are epoch seconds (floats).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

from qtasks.core.status import FINAL_STATUSES, SETTLED_STATUSES

DEFAULT_QUEUE = "default"


@dataclasses.dataclass
class TaskSpec:
    """Everything the decorator knows about a task: its function and its options."""

    priority: int
    name: str
    func: Callable[..., Any]
    awaiting: bool = False
    generating: Literal["async", "sync", False] = False
    echo: bool = False
    max_time: float | None = None
    retry: int | None = None
    retry_on_exc: list[type[BaseException]] | None = None
    decode: Callable[[Any], Any] | None = None
    tags: list[str] | None = None
    description: str | None = None
    generate_handler: Callable[[Any], Any] | None = None
    executor: Any = None
    middlewares_before: list[Any] = dataclasses.field(default_factory=list)
    middlewares_after: list[Any] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(order=True)
class TaskPrioritySchema:
    """A fetched task in the shape QTasks 1.7 gave executors (priority is the only
    compared field)."""

    priority: int
    uuid: Any = dataclasses.field(compare=False)
    name: str = dataclasses.field(compare=False)
    args: list[Any] = dataclasses.field(compare=False, default_factory=list)
    kwargs: dict[str, Any] = dataclasses.field(compare=False, default_factory=dict)
    created_at: float = dataclasses.field(compare=False, default=0.0)
    updated_at: float = dataclasses.field(compare=False, default=0.0)


@dataclasses.dataclass(slots=True)
class TaskRecord:
    """A task as stored: arguments, status, result and bookkeeping (epoch seconds)."""

    uuid: str
    task_name: str
    priority: int
    args: list[Any]
    kwargs: dict[str, Any]
    status: str
    created_at: float
    updated_at: float
    returning: Any = None
    traceback: str | None = None
    #: Other stored fields: cancel_reason, retry, retry_parent_uuid, retry_child_uuid...
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Do not run before this time (epoch seconds); None = now.
    eta: float | None = None
    #: How many times a worker has fetched it.
    attempts: int = 0
    queue: str = DEFAULT_QUEUE

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclasses.dataclass(slots=True)
class Delivery:
    """A task leased to a worker. `token` identifies the lease for ack/extend/release."""

    record: TaskRecord
    token: str


@dataclasses.dataclass(slots=True)
class Completion:
    """A finished delivery: the final record to store in place of the lease, and new
    tasks to enqueue in the same step (a retry's next attempt)."""

    delivery: Delivery
    record: TaskRecord
    followups: list[TaskRecord] = dataclasses.field(default_factory=list)
    #: Set by the engine for a task it takes out of delivery (delivered `max_deliveries`
    #: times without a report back): the reason. The backend stores `record` (status
    #: `error`) and lists the task as a dead letter, in the same step.
    dead_letter: str | None = None


@dataclasses.dataclass(slots=True)
class DeadLetter:
    """A task taken out of delivery, kept for inspection and requeueing.

    Two kinds: a task the engine gave up on (`record` holds its final `error` record),
    and a stored entry the backend could not decode (`record` is None and `raw` keeps
    the stored text as it was, so nothing is lost).
    """

    uuid: str
    queue: str
    reason: str
    #: When it was dead-lettered (epoch seconds).
    dead_at: float
    record: TaskRecord | None = None
    raw: str | None = None


def settled(record: TaskRecord | None) -> bool:
    """Whether a waiter for a task's end stops at `record`: None (unknown) or settled."""
    return record is None or record.status in SETTLED_STATUSES


def progress_moved(record: TaskRecord | None, seen: Any) -> bool:
    """Whether a waiter for a task's progress stops at `record`: None (unknown), settled,
    or reporting a progress (`extra["progress"]`, the dict `set_progress` stores) other
    than `seen`, the one that waiter last saw (None before any)."""
    if record is None or settled(record):
        return True
    return bool(record.extra.get("progress") != seen)


__all__ = [
    "DEFAULT_QUEUE",
    "Completion",
    "DeadLetter",
    "Delivery",
    "TaskPrioritySchema",
    "TaskRecord",
    "TaskSpec",
    "progress_moved",
    "settled",
]
