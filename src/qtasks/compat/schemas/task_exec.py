"""`qtasks.schemas.task_exec` (QTasks 1.7): `TaskExecSchema` (a task's declaration,
`qtasks.core.models.TaskSpec`) and `TaskPrioritySchema` (its fetched view, also in
`qtasks.core.models`)."""

from qtasks.core.models import TaskPrioritySchema, TaskSpec

TaskExecSchema = TaskSpec

__all__ = ["TaskExecSchema", "TaskPrioritySchema"]
