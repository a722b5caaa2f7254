"""`qtasks.base` (QTasks 1.7): the package of `qtasks.base.qtasks`, naming its
`BaseQueueTasks` as the original's package did."""

from qtasks.compat.base.qtasks import BaseQueueTasks

__all__ = ["BaseQueueTasks"]
