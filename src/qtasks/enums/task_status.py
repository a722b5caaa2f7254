"""`TaskStatusEnum`: the five statuses QTasks 1.7 named. qtasks' own enum, with every
status the code uses (also `retry`), is `qtasks.core.status.TaskStatus`."""

from __future__ import annotations

from enum import Enum

from qtasks.core.status import FINAL_STATUSES, RETRY


class TaskStatusEnum(str, Enum):
    NEW = "new"
    PROCESS = "process"
    SUCCESS = "success"
    ERROR = "error"
    CANCEL = "cancel"

    def __str__(self) -> str:
        return self.value


__all__ = ["FINAL_STATUSES", "RETRY", "TaskStatusEnum"]
