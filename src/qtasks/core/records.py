"""Building the record of a new task (no I/O): validation, defaults, timestamps."""

from __future__ import annotations

import time
import uuid as uuid_mod
from collections.abc import Sequence
from typing import Any

from qtasks.core.models import DEFAULT_QUEUE, TaskRecord, TaskSpec
from qtasks.core.status import NEW
from qtasks.exc import ArgumentTypeError, ConfigError


def check_task_name(name: Any) -> str:
    """`name` if it is a non-empty string; else `ConfigError` (a ValueError)."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"A task name must be a non-empty string, got {name!r}")
    return name


def new_record(
    task_name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    priority: int | None,
    *,
    spec: TaskSpec | None,
    default_priority: int,
    eta: float | None = None,
    queue: str | None = None,
    uuid: str | None = None,
) -> TaskRecord:
    """The `new` record of a call. Priority and queue default to the task's options
    (`spec`, when the task is known here), else `default_priority` and "default".
    Raises `ConfigError` for an empty name, `TypeError` for a priority that is not an int."""
    check_task_name(task_name)
    if priority is None:
        priority = spec.priority if spec is not None else default_priority
    if queue is None:
        queue = spec.extra.get("queue", DEFAULT_QUEUE) if spec is not None else DEFAULT_QUEUE
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ArgumentTypeError(f"priority must be an int, got {priority!r}")
    now = time.time()
    return TaskRecord(
        uuid or str(uuid_mod.uuid4()),
        task_name,
        priority,
        list(args),
        dict(kwargs),
        NEW,
        now,
        now,
        eta=eta,
        queue=queue,
    )


__all__ = ["check_task_name", "new_record"]
