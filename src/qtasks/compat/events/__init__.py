"""QTasks 1.7 names of `qtasks.events` (a real package): `BaseOnEvents`, the name 1.7 gave
`qtasks.events.OnEvents`. Also the package of `qtasks.events.base` and
`qtasks.events.events`."""

from qtasks.events import OnEvents

BaseOnEvents = OnEvents

__all__ = ["BaseOnEvents"]
