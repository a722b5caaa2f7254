"""Task statuses and the named sets the engine and waiters use."""

from __future__ import annotations

from enum import Enum


class TaskStatusEnum(str, Enum):
    NEW = "new"
    PROCESS = "process"
    SUCCESS = "success"
    ERROR = "error"
    CANCEL = "cancel"

    def __str__(self) -> str:
        return self.value


#: Written on a failed attempt that was re-enqueued (see retries); not final.
RETRY = "retry"

FINAL_STATUSES = frozenset({"success", "error", "cancel"})

__all__ = ["FINAL_STATUSES", "RETRY", "TaskStatusEnum"]
