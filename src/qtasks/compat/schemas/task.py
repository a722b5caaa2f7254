"""`qtasks.schemas.task` (QTasks 1.7): `Task`, what `app.get()` and `add_task()` return,
from `qtasks.app.task`."""

from qtasks.app.task import Task

__all__ = ["Task"]
