"""`qtasks.events.events` (QTasks 1.7): `OnEvents` (the `app.events.on` decorators) and its
1.7 name `BaseOnEvents`, from `qtasks.events`."""

from qtasks.compat.events import BaseOnEvents
from qtasks.events import OnEvents

__all__ = ["BaseOnEvents", "OnEvents"]
