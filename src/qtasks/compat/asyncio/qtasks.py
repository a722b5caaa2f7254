"""`qtasks.asyncio.qtasks` (QTasks 1.7): the async `QueueTasks`, from
`qtasks.app.async_app`."""

from qtasks.app.async_app import QueueTasks

__all__ = ["QueueTasks"]
