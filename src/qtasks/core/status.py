"""Task statuses and the named sets the engine, backends and waiters use."""

from __future__ import annotations

from enum import Enum


class TaskStatus(str, Enum):
    """Every status a task record can have.

    `retry` marks a failed attempt that handed over to a new attempt (its record names
    the next one in `retry_child_uuid`); it is not final, but a waiter stops there and
    follows the chain.
    """

    NEW = "new"
    PROCESS = "process"
    SUCCESS = "success"
    ERROR = "error"
    CANCEL = "cancel"
    RETRY = "retry"

    def __str__(self) -> str:
        return self.value


NEW = TaskStatus.NEW.value
PROCESS = TaskStatus.PROCESS.value
SUCCESS = TaskStatus.SUCCESS.value
ERROR = TaskStatus.ERROR.value
CANCEL = TaskStatus.CANCEL.value
RETRY = TaskStatus.RETRY.value

#: A task in one of these will not change any more.
FINAL_STATUSES = frozenset({SUCCESS, ERROR, CANCEL})
#: Where a waiter stops: final, or handed over to a retry attempt.
SETTLED_STATUSES = FINAL_STATUSES | {RETRY}
#: Not started yet or running.
PENDING_STATUSES = frozenset({NEW, PROCESS})

__all__ = [
    "CANCEL",
    "ERROR",
    "FINAL_STATUSES",
    "NEW",
    "PENDING_STATUSES",
    "PROCESS",
    "RETRY",
    "SETTLED_STATUSES",
    "SUCCESS",
    "TaskStatus",
]
