from qtasks.exc import TaskPluginTriggerError

__all__ = ["TaskPluginTriggerError"]
