"""`qtasks.schemas.task_cls` (QTasks 1.7): pre-built calls `BaseTaskCls`, `AsyncTaskCls`,
`SyncTaskCls`, from `qtasks.registries.task`."""

from qtasks.registries.task import AsyncTaskCls, BaseTaskCls, SyncTaskCls

__all__ = ["AsyncTaskCls", "BaseTaskCls", "SyncTaskCls"]
