"""The task running in this context, set by the executor around each execution.

A task's `ctx` reads it to know its uuid even without echo; contextvars reach sync
tasks' threads too (the pool copies the context).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qtasks.core.models import TaskRecord

current_record: ContextVar[TaskRecord | None] = ContextVar("qtasks_current_record", default=None)

__all__ = ["current_record"]
