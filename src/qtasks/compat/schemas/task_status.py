"""`qtasks.schemas.task_status` (QTasks 1.7): a task's stored fields per status, as the
original's storages wrote them. `args` and `kwargs` are JSON text (a list or dict given
is encoded); times are epoch seconds.

qtasks' own record is `qtasks.core.models.TaskRecord`; these classes remain for code that
builds or reads the original's shapes (plugins, custom storages).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import ClassVar

from qtasks.compat.enums.task_status import TaskStatusEnum


@dataclasses.dataclass
class BaseTaskStatusSchema:
    task_name: str = ""
    priority: int = 0
    args: str = "[]"
    kwargs: str = "{}"
    created_at: float = 0.0
    updated_at: float = dataclasses.field(default_factory=time.time)

    def __post_init__(self) -> None:
        if not isinstance(self.args, str):
            self.args = json.dumps(self.args)
        if not isinstance(self.kwargs, str):
            self.kwargs = json.dumps(self.kwargs)


@dataclasses.dataclass
class TaskStatusNewSchema(BaseTaskStatusSchema):
    status: str = TaskStatusEnum.NEW.value


@dataclasses.dataclass
class TaskStatusProcessSchema(BaseTaskStatusSchema):
    status: str = TaskStatusEnum.PROCESS.value


@dataclasses.dataclass
class TaskStatusSuccessSchema(BaseTaskStatusSchema):
    status: str = TaskStatusEnum.SUCCESS.value
    returning: str = ""


@dataclasses.dataclass
class TaskStatusErrorSchema(BaseTaskStatusSchema):
    status: str = TaskStatusEnum.ERROR.value
    traceback: str = ""

    # set by the retry logic on the stored record, not fields of the schema
    retry: ClassVar[int | None] = None
    retry_child_uuid: ClassVar[str | None] = None
    retry_parent_uuid: ClassVar[str | None] = None


@dataclasses.dataclass
class TaskStatusCancelSchema(BaseTaskStatusSchema):
    status: str = TaskStatusEnum.CANCEL.value
    cancel_reason: str = ""


__all__ = [
    "BaseTaskStatusSchema",
    "TaskStatusCancelSchema",
    "TaskStatusErrorSchema",
    "TaskStatusNewSchema",
    "TaskStatusProcessSchema",
    "TaskStatusSuccessSchema",
]
