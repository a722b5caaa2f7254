"""`qtasks.enums.task_status` (QTasks 1.7): `TaskStatusEnum`, the five statuses QTasks 1.7
named, defined here because only code written for it uses them. qtasks' own enum, with
every status the code uses (also `retry`), is `qtasks.core.status.TaskStatus`; its values
are the same strings."""

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
