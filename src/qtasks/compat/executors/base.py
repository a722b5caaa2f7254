"""`qtasks.executors.base` (QTasks 1.7): `BaseTaskExecutor`, the engine's
`qtasks.engine.executor.TaskExecutor`."""

from qtasks.engine.executor import TaskExecutor as BaseTaskExecutor

__all__ = ["BaseTaskExecutor"]
