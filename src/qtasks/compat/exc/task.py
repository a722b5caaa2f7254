"""`qtasks.exc.task` (QTasks 1.7): `TaskCancelError`, from `qtasks.exc`."""

from qtasks.exc import TaskCancelError

__all__ = ["TaskCancelError"]
