"""`qtasks.base` (QTasks 1.7): the package of `qtasks.base.qtasks`."""
