"""The original's names for a task's declaration and its fetched view."""

from qtasks.core.models import TaskPrioritySchema, TaskSpec

#: The name QTasks 1.7 used for `TaskSpec`.
TaskExecSchema = TaskSpec

__all__ = ["TaskExecSchema", "TaskPrioritySchema"]
