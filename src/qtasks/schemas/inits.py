"""`InitsExecSchema`: QTasks 1.7's name for `qtasks.events.EventHandler`."""

from qtasks.events import EventHandler

InitsExecSchema = EventHandler

__all__ = ["InitsExecSchema"]
