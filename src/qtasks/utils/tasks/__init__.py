"""Task helpers: chains of pre-built calls (`AsyncTaskUtils`, `SyncTaskUtils`)."""

from qtasks.utils.tasks.async_task_utils import AsyncTaskUtils
from qtasks.utils.tasks.sync_task_utils import SyncTaskUtils

__all__ = ["AsyncTaskUtils", "SyncTaskUtils"]
