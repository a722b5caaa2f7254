"""One exception root, a subtree per component."""

from __future__ import annotations

from typing import Any


class QTasksError(Exception):
    """Root of every error qtasks raises on purpose."""


class AppNotFoundError(QTasksError, ImportError):
    """An app-less call found no `qtasks._state.app_main`."""


class ConfigError(QTasksError, ValueError):
    """A configuration value or URL is invalid."""


class BackendError(QTasksError):
    """A backend (broker/storage) failed; the driver's error is the __cause__."""


class BackendUnavailableError(BackendError, ConnectionError):
    """The backend server cannot be reached (after retries)."""


class MissingDriverError(QTasksError, ImportError):
    """A backend's optional driver is not installed."""


class SerializationError(QTasksError, TypeError):
    """Arguments or a result cannot be encoded for storage."""


class TaskNotRegisteredError(QTasksError, KeyError):
    """The worker has no task of that name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class TaskCancelError(QTasksError, RuntimeError):
    """Raised by `ctx.cancel()`; the task ends with status `cancel`."""


class TaskPluginTriggerError(QTasksError):
    """Raised by `ctx.plugin_error(**kwargs)`; plugins may turn it into a result."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kwargs.get("message") or kwargs.get("reason") or repr(kwargs))
        self.kwargs = kwargs


__all__ = [
    "AppNotFoundError",
    "BackendError",
    "BackendUnavailableError",
    "ConfigError",
    "MissingDriverError",
    "QTasksError",
    "SerializationError",
    "TaskCancelError",
    "TaskNotRegisteredError",
    "TaskPluginTriggerError",
]
