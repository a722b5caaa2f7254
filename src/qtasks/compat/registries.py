"""QTasks 1.7 names of `qtasks.registries` (a real package of ours whose `__init__` keeps
none of them): `AsyncTask`, `SyncTask` (`qtasks.registries.task`) and `TaskRegistry`
(`qtasks.registries.registry`)."""

from qtasks.registries.registry import TaskRegistry
from qtasks.registries.task import AsyncTask, SyncTask

__all__ = ["AsyncTask", "SyncTask", "TaskRegistry"]
