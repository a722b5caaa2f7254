"""`self.ctx` of a task: who am I, my app's config and logger, cancel, sleep, report
progress."""

from __future__ import annotations

import asyncio
import math
import time
from contextvars import ContextVar
from typing import Any

from qtasks.core.models import TaskRecord
from qtasks.engine.current import current_record
from qtasks.exc import ConfigError, TaskCancelError, TaskPluginTriggerError
from qtasks.logs import Logger

#: Least seconds between two writes of one task's progress; reports in between are kept
#: on the running record (the final record carries the last one) and written with the
#: next report due.
PROGRESS_INTERVAL = 0.5

#: When the running task (of this context) last wrote its progress: (uuid, monotonic).
_last_progress: ContextVar[tuple[str, float] | None] = ContextVar(
    "qtasks_last_progress", default=None
)


class TaskLogger(Logger):
    """The logger `ctx.get_logger()` returns: the app's, and while a task runs in this
    context (its thread or child process included) each line names it: the subname
    becomes `<subname>[<task uuid>]`, and the record carries `task_name`, `task_uuid`
    and `queue` for a structured formatter."""

    def _log(self, level: int, msg: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not self.logger.isEnabledFor(level):
            return
        record = current_record.get()
        if record is not None:
            extra = dict(kwargs.pop("extra", None) or {})
            extra.setdefault("subname", f"{self.subname}[{record.uuid}]")
            extra.setdefault("task_name", record.task_name)
            extra.setdefault("task_uuid", record.uuid)
            extra.setdefault("queue", record.queue)
            kwargs["extra"] = extra
        kwargs.setdefault("stacklevel", 4)  # the task's line, not this method
        super()._log(level, msg, args, kwargs)


class BaseContext:
    def __init__(self, **kwargs: Any) -> None:
        self.task_name: str | None = kwargs.get("task_name")
        self._task_uuid: str | None = kwargs.get("task_uuid")
        self.generate_handler = kwargs.get("generate_handler")
        self._app = kwargs.get("app")
        self._log: Logger | None = kwargs.get("log")
        self._metadata: Any = None

    @property
    def task_uuid(self) -> str | None:
        """This task's uuid: given for echo tasks, else the running task's if it is
        this one (contextvars reach sync tasks' threads too)."""
        if self._task_uuid is not None:
            return self._task_uuid
        record = current_record.get()
        if record is not None and (self.task_name is None or record.task_name == self.task_name):
            return record.uuid
        return None

    @task_uuid.setter
    def task_uuid(self, value: str | None) -> None:
        self._task_uuid = value

    @property
    def app(self) -> Any:
        if self._app is None:
            from qtasks._state import require_app

            return require_app()
        return self._app

    def get_logger(self, name: str | None = None) -> Logger:
        """The app's logger under subname `name` (default: the task's name); its lines
        logged while a task runs carry that task's uuid (`TaskLogger`)."""
        subname = name or self.task_name or type(self).__name__
        log = self.app.log
        self._log = TaskLogger(log.name, subname, log.default_level)
        return self._log

    def get_config(self) -> Any:
        return self.app.config

    def get_component(self, name: str) -> Any:
        return getattr(self.app, name, None)

    def cancel(self, reason: str = "") -> None:
        raise TaskCancelError(reason or f"{self.task_name}.cancel")

    def plugin_error(self, **kwargs: Any) -> None:
        raise TaskPluginTriggerError(**kwargs)

    def _progress(self, value: float, message: str | None) -> dict[str, Any] | None:
        """Record the report on the running record; the progress to write now, or None
        when the last write was less than `PROGRESS_INTERVAL` ago."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"progress must be a number from 0 to 1, got {value!r}")
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise ConfigError(f"progress must be a number from 0 to 1, got {value!r}")
        if message is not None and not isinstance(message, str):
            raise ConfigError(f"progress message must be a str, got {message!r}")
        record: TaskRecord | None = current_record.get()
        if record is None or (self.task_name is not None and record.task_name != self.task_name):
            raise ConfigError("set_progress() reports the progress of a running task, from it")
        progress = {"value": float(value), "message": message, "at": time.time()}
        record.extra["progress"] = progress  # the final record carries the last report
        now = time.monotonic()
        last = _last_progress.get()
        if last is not None and last[0] == record.uuid and now - last[1] < PROGRESS_INTERVAL:
            return None
        _last_progress.set((record.uuid, now))
        return progress

    def _require_uuid(self) -> str:
        if not self.task_uuid:
            raise ConfigError("This context has no task uuid (it is not a running task)")
        return self.task_uuid


class SyncContext(BaseContext):
    def get_task(self, uuid: Any) -> Any:
        return self.app._get_sync(uuid)

    def get_metadata(self, cache: bool = True) -> Any:
        uuid = self._require_uuid()
        if cache and self._metadata is not None and self._metadata[0] == uuid:
            return self._metadata[1]
        task = self.app._get_sync(uuid)
        self._metadata = (uuid, task)
        return task

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def set_progress(self, value: float, message: str | None = None) -> None:
        """Report how far the running task got: `value` from 0 to 1 and an optional
        `message` ("page 4/10"). Stored on its record as `progress` ({"value",
        "message", "at"}: epoch seconds), seen by `app.get()`, `app.wait(on_progress=)`
        and `qtasks task`. Writes are coalesced: at most one every `PROGRESS_INTERVAL`
        seconds, the last report always reaching the final record. `ConfigError` for a
        value outside 0..1 or outside a running task."""
        progress = self._progress(value, message)
        if progress is not None:
            self.app._run_sync(self.app._progress_flow(self._require_uuid(), progress))


class AsyncContext(BaseContext):
    async def get_task(self, uuid: Any) -> Any:
        return await self.app._get_async(uuid)

    async def get_metadata(self, cache: bool = True) -> Any:
        uuid = self._require_uuid()
        if cache and self._metadata is not None and self._metadata[0] == uuid:
            return self._metadata[1]
        task = await self.app._get_async(uuid)
        self._metadata = (uuid, task)
        return task

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def set_progress(self, value: float, message: str | None = None) -> None:
        """Report how far the running task got (see `SyncContext.set_progress`)."""
        progress = self._progress(value, message)
        if progress is not None:
            await self.app._run_async(self.app._progress_flow(self._require_uuid(), progress))


__all__ = [
    "PROGRESS_INTERVAL",
    "AsyncContext",
    "BaseContext",
    "SyncContext",
    "TaskLogger",
    "current_record",
]
