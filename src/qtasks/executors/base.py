from qtasks.engine.executor import TaskExecutor as BaseTaskExecutor

__all__ = ["BaseTaskExecutor"]
