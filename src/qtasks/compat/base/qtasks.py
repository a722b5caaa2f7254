"""`qtasks.base.qtasks` (QTasks 1.7): `BaseQueueTasks`, what both apps share, from
`qtasks.app.base`."""

from qtasks.app.base import BaseQueueTasks

__all__ = ["BaseQueueTasks"]
