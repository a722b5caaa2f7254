from qtasks.registries.registry import TaskRegistry
from qtasks.registries.task import AsyncTask, SyncTask

__all__ = ["AsyncTask", "SyncTask", "TaskRegistry"]
