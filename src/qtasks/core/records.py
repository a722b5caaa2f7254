"""Building the record of a new task (no I/O): validation, defaults, timestamps.

What a backend could not keep exactly is refused here, before anything is written:
arguments that would not come back equal (see `qtasks.core.codec`), a priority outside
[PRIORITY_MIN, PRIORITY_MAX], a negative, NaN or infinite time option.
"""

from __future__ import annotations

import math
import time
import uuid as uuid_mod
from collections.abc import Sequence
from typing import Any

from qtasks.core.codec import check_call
from qtasks.core.models import DEFAULT_QUEUE, TaskRecord, TaskSpec
from qtasks.core.status import NEW
from qtasks.exc import ArgumentTypeError, ConfigError, SerializationError

#: The priorities every backend keeps exactly and orders correctly: the integers a
#: double holds exactly (+/- (2**53 - 1)), within SQLite's int64 and Redis's scores.
PRIORITY_MIN = -(2**53 - 1)
PRIORITY_MAX = 2**53 - 1


def check_task_name(name: Any) -> str:
    """`name` if it is a non-empty string; else `ConfigError` (a ValueError)."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"A task name must be a non-empty string, got {name!r}")
    return name


def check_priority(priority: Any) -> int:
    """`priority` if it is an int in [PRIORITY_MIN, PRIORITY_MAX]. Raises
    `ArgumentTypeError` (a TypeError) for another type (bool included) and
    `ConfigError` (a ValueError) for an int out of that range."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ArgumentTypeError(
            f"priority must be an int, got {priority!r} ({type(priority).__name__}); "
            f"lower runs first"
        )
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ConfigError(
            f"priority {priority} is out of range: use an int from -(2**53 - 1) to "
            f"2**53 - 1 (every backend keeps and orders those exactly)"
        )
    return priority


def check_seconds(name: str, value: Any) -> float | None:
    """`value` (seconds, or None) as given if it is a finite number >= 0. Raises
    `ArgumentTypeError` for a non-number (bool included) and `ConfigError` naming the
    option `name` for a negative, NaN or infinite one."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"{name} must be a number of seconds, got {value!r} ({type(value).__name__})"
        )
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return value


def check_eta(eta: float | None) -> float | None:
    """`eta` (epoch seconds, or None) if finite and >= 0; else `ConfigError`."""
    if eta is not None and not (math.isfinite(eta) and eta >= 0):
        raise ConfigError(f"eta must be a datetime or finite epoch seconds >= 0, got {eta!r}")
    return eta


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
    Raises `ConfigError` (a ValueError) for an empty name, a priority out of range or an
    eta that is negative or not finite; `ArgumentTypeError` (a TypeError) for a priority
    that is not an int; `SerializationError` (a TypeError) for arguments that would not
    come back equal, naming the argument (`args[2][0]`, `kwargs['ratio']`) and the fix."""
    check_task_name(task_name)
    if priority is None:
        priority = spec.priority if spec is not None else default_priority
    if queue is None:
        queue = spec.extra.get("queue", DEFAULT_QUEUE) if spec is not None else DEFAULT_QUEUE
    check_priority(priority)
    check_eta(eta)
    call_args, call_kwargs = list(args), dict(kwargs)
    try:
        check_call(call_args, call_kwargs)
    except SerializationError as exc:  # the task's name is formatted only on failure
        raise SerializationError(f"Cannot enqueue task {task_name!r}: {exc}") from None
    now = time.time()
    return TaskRecord(
        uuid or str(uuid_mod.uuid4()),
        task_name,
        priority,
        call_args,
        call_kwargs,
        NEW,
        now,
        now,
        eta=eta,
        queue=queue,
    )


__all__ = [
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "check_eta",
    "check_priority",
    "check_seconds",
    "check_task_name",
    "new_record",
]
