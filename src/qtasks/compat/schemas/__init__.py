"""`qtasks.schemas` (QTasks 1.7) and its modules, each a name over qtasks' own:

- `task.Task` -> `qtasks.app.task.Task`
- `task_exec.TaskExecSchema` -> `qtasks.core.models.TaskSpec`;
  `task_exec.TaskPrioritySchema` -> `qtasks.core.models.TaskPrioritySchema`
- `task_cls.BaseTaskCls`, `AsyncTaskCls`, `SyncTaskCls` -> `qtasks.registries.task`
- `argmeta.ArgMeta` -> `qtasks.core.argmeta.ArgMeta`
- `inits.InitsExecSchema` -> `qtasks.events.EventHandler`
- `test.TestConfig` -> `qtasks.tests.TestConfig`
- `global_config.GlobalConfigSchema`: defined there (nothing of qtasks uses it)
- `task_status.TaskStatus*Schema`: the original's stored shapes, defined there
"""

from qtasks.compat.schemas.argmeta import ArgMeta
from qtasks.compat.schemas.global_config import GlobalConfigSchema
from qtasks.compat.schemas.inits import InitsExecSchema
from qtasks.compat.schemas.task import Task
from qtasks.compat.schemas.task_exec import TaskExecSchema, TaskPrioritySchema
from qtasks.compat.schemas.task_status import (
    TaskStatusErrorSchema,
    TaskStatusNewSchema,
    TaskStatusProcessSchema,
    TaskStatusSuccessSchema,
)
from qtasks.compat.schemas.test import TestConfig

__all__ = [
    "ArgMeta",
    "GlobalConfigSchema",
    "InitsExecSchema",
    "Task",
    "TaskExecSchema",
    "TaskPrioritySchema",
    "TaskStatusErrorSchema",
    "TaskStatusNewSchema",
    "TaskStatusProcessSchema",
    "TaskStatusSuccessSchema",
    "TestConfig",
]
