"""`qtasks.schemas.inits` (QTasks 1.7): `InitsExecSchema`, an event handler as registered
on `app.events`: `qtasks.events.EventHandler`."""

from qtasks.events import EventHandler

InitsExecSchema = EventHandler

__all__ = ["InitsExecSchema"]
