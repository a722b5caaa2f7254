"""`qtasks.events.base` (QTasks 1.7): `BaseEvents`, from `qtasks.events`."""

from qtasks.events import BaseEvents

__all__ = ["BaseEvents"]
