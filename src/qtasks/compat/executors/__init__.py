"""`qtasks.executors` (QTasks 1.7): `AsyncTaskExecutor` and `SyncTaskExecutor`, both the
engine's one `qtasks.engine.executor.TaskExecutor` (also exported here)."""

from qtasks.engine.executor import TaskExecutor

AsyncTaskExecutor = TaskExecutor
SyncTaskExecutor = TaskExecutor

__all__ = ["AsyncTaskExecutor", "SyncTaskExecutor", "TaskExecutor"]
