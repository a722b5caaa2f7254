"""`qtasks.qtasks` (QTasks 1.7): the sync `QueueTasks`, from `qtasks.app.sync_app`."""

from qtasks.app.sync_app import QueueTasks

__all__ = ["QueueTasks"]
