"""Every error qtasks raises, under one root, a subtree per component.

```
QTasksError
├── ConfigError (ValueError)                bad option, URL or environment value
│   ├── AppNotFoundError (ImportError)     an app-less call found no app
│   └── ArgumentTypeError (TypeError)      an argument of the wrong type
├── MissingDriverError (ImportError)        a backend's optional driver is not installed
├── SerializationError (TypeError)          arguments or a result are not JSON-encodable
├── BackendError                            a broker or result store failed
│   ├── BackendUnavailableError (ConnectionError)   server down, file unwritable
│   └── CapabilityError (NotImplementedError)       the backend cannot do that
├── TaskError                               about one task
│   ├── TaskNotRegisteredError (KeyError)  no task of that name in the worker's app
│   ├── TaskNotBoundError (RuntimeError)   a pre-built call without its task
│   ├── TaskCancelError (RuntimeError)     `ctx.cancel()` or `app.cancel()`
│   ├── TaskTimeoutError (TimeoutError)    the task ran longer than its `max_time`
│   └── TaskPluginTriggerError             `ctx.plugin_error(...)`
├── PluginError                             about plugins, hooks and injected arguments
│   ├── HookAbort                           a plugin fails the task at hand on purpose
│   └── InjectionError (ValueError)         an injected argument cannot be built
│       └── DependencyError (RuntimeError) a `Depends` function misbehaved
└── EngineError (RuntimeError)              worker or server lifecycle (failed start, running)
    ├── StartTimeoutError (TimeoutError)    a server did not come up in time
    └── WorkerRecycledError                 a worker stopped to be replaced (stuck threads)
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


class ArgumentTypeError(ConfigError, TypeError):
    """An argument has the wrong type (a priority that is not an int, a middleware that is
    not a class...)."""


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


class TaskNotBoundError(TaskError, RuntimeError):
    """A pre-built call (`SyncTaskCls`/`AsyncTaskCls`) that is not bound to a task."""


class TaskCancelError(TaskError, RuntimeError):
    """Raised by `ctx.cancel()`; the task ends with status `cancel`."""


class TaskTimeoutError(TaskError, TimeoutError):
    """The task ran longer than its `max_time`."""


class TaskPluginTriggerError(TaskError):
    """Raised by `ctx.plugin_error(**kwargs)` (or by a task itself, with a message as
    QTasks 1.7 allowed: `raise TaskPluginTriggerError("reason")`); plugins may turn it
    into a result. `.kwargs` holds the keyword arguments for the plugins."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args:
            args = (kwargs.get("message") or kwargs.get("reason") or repr(kwargs),)
        super().__init__(*args)
        self.kwargs = kwargs


class PluginError(QTasksError):
    """About plugins and hooks."""


class HookAbort(PluginError):
    """Raised by a plugin's hook to fail the task at hand with `__cause__` as its error
    (any other exception from a plugin is logged and the plugin skipped)."""


class InjectionError(PluginError, ValueError):
    """A value for a task's parameter (a Pydantic model, a dependency) cannot be built."""


class DependencyError(InjectionError, RuntimeError):
    """A `Depends` function did not yield a value, or yielded more than once."""


class EngineError(QTasksError, RuntimeError):
    """A worker or server cannot do what was asked (already running, failed to start)."""


class StartTimeoutError(EngineError, TimeoutError):
    """A server did not start within its time."""


class WorkerRecycledError(EngineError):
    """A worker stopped itself to be replaced by a fresh process: more of its task
    threads were stuck (sync code still running after its task's time limit or cancel)
    than `max_stuck_threads`. It drained like on shutdown first. `qtasks run` exits with
    `exit_code` (75, EX_TEMPFAIL) so that a supervisor starts it again."""

    exit_code = 75


__all__ = [
    "AppNotFoundError",
    "ArgumentTypeError",
    "BackendError",
    "BackendUnavailableError",
    "CapabilityError",
    "ConfigError",
    "DependencyError",
    "EngineError",
    "HookAbort",
    "InjectionError",
    "MissingDriverError",
    "PluginError",
    "QTasksError",
    "SerializationError",
    "StartTimeoutError",
    "TaskCancelError",
    "TaskError",
    "TaskNotBoundError",
    "TaskNotRegisteredError",
    "TaskPluginTriggerError",
    "TaskTimeoutError",
    "WorkerRecycledError",
]
