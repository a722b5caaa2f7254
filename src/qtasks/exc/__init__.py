"""Every error qtasks raises, under one root, a subtree per component.

```
QTasksError
├── ConfigError (ValueError)                bad option, URL or environment value
│   └── AppNotFoundError (ImportError)     an app-less call found no app
├── MissingDriverError (ImportError)        a backend's optional driver is not installed
├── SerializationError (TypeError)          arguments or a result are not JSON-encodable
├── BackendError                            a broker or result store failed
│   ├── BackendUnavailableError (ConnectionError)   server down, file unwritable
│   └── CapabilityError (NotImplementedError)       the backend cannot do that
├── TaskError                               about one task
│   ├── TaskNotRegisteredError (KeyError)  no task of that name in the worker's app
│   ├── TaskCancelError (RuntimeError)     `ctx.cancel()` or `app.cancel()`
│   └── TaskPluginTriggerError             `ctx.plugin_error(...)`
├── PluginError                             about plugins and hooks
│   └── HookAbort                           a plugin fails the task at hand on purpose
└── EngineError (RuntimeError)              worker or server lifecycle (failed start, running)
```

Each subclasses the builtin it replaced where there was one, so `except ValueError`
keeps working. A driver's own exception (sqlite3, redis, psycopg, ...) never reaches the
user: backends translate it at their boundary and keep it as `__cause__`.
"""

from __future__ import annotations

from typing import Any


class QTasksError(Exception):
    """Root of every error qtasks raises on purpose."""


class ConfigError(QTasksError, ValueError):
    """A configuration value, option or URL is invalid."""


class AppNotFoundError(ConfigError, ImportError):
    """An app-less call found no `qtasks._state.app_main`."""


class MissingDriverError(QTasksError, ImportError):
    """A backend's optional driver is not installed."""


class SerializationError(QTasksError, TypeError):
    """Arguments or a result cannot be encoded for storage."""


class BackendError(QTasksError):
    """A backend (broker/storage) failed; the driver's error is the __cause__."""


class BackendUnavailableError(BackendError, ConnectionError):
    """The backend server cannot be reached, or its file cannot be opened or written."""


class CapabilityError(BackendError, NotImplementedError):
    """The backend does not offer this operation (see its `capabilities`)."""


class TaskError(QTasksError):
    """About one task."""


class TaskNotRegisteredError(TaskError, KeyError):
    """The worker has no task of that name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class TaskCancelError(TaskError, RuntimeError):
    """Raised by `ctx.cancel()`; the task ends with status `cancel`."""


class TaskPluginTriggerError(TaskError):
    """Raised by `ctx.plugin_error(**kwargs)`; plugins may turn it into a result."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kwargs.get("message") or kwargs.get("reason") or repr(kwargs))
        self.kwargs = kwargs


class PluginError(QTasksError):
    """About plugins and hooks."""


class HookAbort(PluginError):
    """Raised by a plugin's hook to fail the task at hand with `__cause__` as its error
    (any other exception from a plugin is logged and the plugin skipped)."""


class EngineError(QTasksError, RuntimeError):
    """A worker or server cannot do what was asked (already running, failed to start)."""


__all__ = [
    "AppNotFoundError",
    "BackendError",
    "BackendUnavailableError",
    "CapabilityError",
    "ConfigError",
    "EngineError",
    "HookAbort",
    "MissingDriverError",
    "PluginError",
    "QTasksError",
    "SerializationError",
    "TaskCancelError",
    "TaskError",
    "TaskNotRegisteredError",
    "TaskPluginTriggerError",
]
