from qtasks.schemas.argmeta import ArgMeta
from qtasks.schemas.global_config import GlobalConfigSchema
from qtasks.schemas.inits import InitsExecSchema
from qtasks.schemas.task import Task
from qtasks.schemas.task_exec import TaskExecSchema, TaskPrioritySchema
from qtasks.schemas.test import TestConfig

__all__ = [
    "ArgMeta",
    "GlobalConfigSchema",
    "InitsExecSchema",
    "Task",
    "TaskExecSchema",
    "TaskPrioritySchema",
    "TestConfig",
]
