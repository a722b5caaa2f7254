"""`SyncResult` / `AsyncResult`: wait for a task by uuid (the backend pushes the end).

Without `app=` they use the process's default app (`qtasks._state.app_main`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from qtasks._state import require_app
from qtasks.app.task import Task
from qtasks.exc import ConfigError


class BaseResult:
    def __init__(self, uuid: UUID | str | None = None, app: Any = None, log: Any = None) -> None:
        if uuid is None:
            raise ConfigError("A result needs the task's uuid")
        self.uuid = uuid
        self._app = app
        self.log = log

    @property
    def app(self) -> Any:
        return self._app if self._app is not None else require_app()


class SyncResult(BaseResult):
    def result(self, timeout: float = 100) -> Task | None:
        """The finished Task (following retries), or None after `timeout` seconds."""
        result: Task | None = self.app._wait_sync(self.uuid, timeout)
        return result


class AsyncResult(BaseResult):
    async def result(self, timeout: float = 100) -> Task | None:
        """The finished Task (following retries), or None after `timeout` seconds."""
        result: Task | None = await self.app._wait_async(self.uuid, timeout)
        return result


__all__ = ["AsyncResult", "BaseResult", "SyncResult"]
