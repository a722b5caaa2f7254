"""`qtasks.exc.plugins` (QTasks 1.7): `TaskPluginTriggerError`, from `qtasks.exc`."""

from qtasks.exc import TaskPluginTriggerError

__all__ = ["TaskPluginTriggerError"]
