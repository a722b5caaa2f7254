"""Task middlewares: classes that run before or after a task's function.

A middleware is built with the running `TaskExecutor` and called (sync or async). It
may read or change `executor._args`, `executor._kwargs` (before) or `executor._result`
(after). Order, the same in both apps: the task's `middlewares_before`, then the app's
(`app.add_middleware(M)`), then the function, then the task's `middlewares_after`, then
the app's (`app.add_middleware(M, position="after")`).
"""

from __future__ import annotations

from typing import Any


class BaseMiddleware:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return None


class TaskMiddleware(BaseMiddleware):
    """Subclass and override `__call__` (sync or `async def`)."""

    def __init__(self, task_executor: Any) -> None:
        super().__init__("TaskMiddleware")
        self.task_executor = task_executor


__all__ = ["BaseMiddleware", "TaskMiddleware"]
