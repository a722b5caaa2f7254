from qtasks.enums.task_status import FINAL_STATUSES, RETRY, TaskStatusEnum

__all__ = ["FINAL_STATUSES", "RETRY", "TaskStatusEnum"]
