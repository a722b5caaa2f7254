"""`qtasks.enums` (QTasks 1.7): `TaskStatusEnum` (`qtasks.enums.task_status`), and the
status sets `FINAL_STATUSES`, `RETRY` from `qtasks.core.status`."""

from qtasks.compat.enums.task_status import FINAL_STATUSES, RETRY, TaskStatusEnum

__all__ = ["FINAL_STATUSES", "RETRY", "TaskStatusEnum"]
