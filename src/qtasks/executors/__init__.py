"""The task executor; `AsyncTaskExecutor`/`SyncTaskExecutor` are the original's names for
the one implementation."""

from qtasks.engine.executor import AsyncTaskExecutor, SyncTaskExecutor, TaskExecutor

__all__ = ["AsyncTaskExecutor", "SyncTaskExecutor", "TaskExecutor"]
