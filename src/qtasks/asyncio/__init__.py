"""The async public API: `from qtasks.asyncio import QueueTasks`."""

from qtasks.app.async_app import QueueTasks
from qtasks.registries.task import AsyncTask
from qtasks.routers import AsyncRouter

__all__ = ["AsyncRouter", "AsyncTask", "QueueTasks"]
