"""`QueueConfig`: one typed value object per app, read by every component of that app.

Fields keep the original's names and defaults; the fields after the marker comment are
ours. Any `QTASKS_<FIELD>` environment variable overrides a field at construction,
cast by the field's declared type (bool, int, float, str, list[str], or the
non-None member of an `X | None` field). Unknown attributes become dynamic fields.
Every assignment notifies the subscribers registered with `subscribe()`.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import logging
import os
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Union

from qtasks.core.urls import redact
from qtasks.exc import ConfigError

#: The log line format of `qtasks.logs.Logger` (`logs_format`'s default).
DEFAULT_FORMAT = "%(asctime)s [%(name)s: %(levelname)s] (%(subname)s) %(message)s"

Subscriber = Callable[["QueueConfig", str, Any], None]


@dataclasses.dataclass(repr=False)
class QueueConfig:
    max_tasks_process: int = 10
    running_older_tasks: bool = False
    delete_finished_tasks: bool = False
    task_default_priority: int = 0
    task_default_decode: Callable[[Any], Any] | None = None
    logs_default_level_server: int = logging.INFO
    logs_default_level_client: int = logging.INFO
    logs_format: str = DEFAULT_FORMAT
    result_time_interval: float = 1.0
    result_statuses_end: list[str] = dataclasses.field(
        default_factory=lambda: ["success", "error", "cancel"]
    )
    environ_prefix: str = "QTASKS_"
    # --- qtasks additions -------------------------------------------------------------
    #: Backend URL used when the app is given none (env QTASKS_BROKER_URL).
    broker_url: str | None = None
    #: Result store URL when it differs from the broker's (env QTASKS_STORAGE_URL): the
    #: broker is then paired with this store.
    storage_url: str | None = None
    #: Seconds a fetched task stays leased to a worker without a heartbeat.
    lease_timeout: float = 30.0
    #: Deliveries of one task without its worker reporting back (the worker died each
    #: time) before the task is dead-lettered instead of delivered again; per task
    #: `@app.task(max_deliveries=N)`.
    max_deliveries: int = 5
    #: Where sync task bodies run (env QTASKS_TASK_ISOLATION): "thread", in the worker's
    #: threads, or "process", in child processes the worker kills on `max_time` or
    #: `app.cancel()`; per task `@app.task(isolation=...)`. Async tasks run on the loop.
    task_isolation: str = "thread"
    #: Seconds a finished record (success, error, cancel) is kept.
    result_ttl: float = 7 * 24 * 3600.0
    #: Seconds in-flight tasks get to finish on shutdown before they are released.
    shutdown_grace: float = 10.0
    #: Seconds an async task may hold the worker's event loop without awaiting before
    #: the worker logs a warning naming it (once per blocking); 0 = no warning.
    loop_block_warning: float = 1.0
    #: Task threads written off at once (a sync task still running after its `max_time`
    #: or its cancel) that the worker replaces to keep its concurrency; one more makes it
    #: recycle itself (`qtasks run` exits with code 75). None = the worker's concurrency;
    #: 0 = never replace them (each holds its place until its function returns) nor recycle.
    max_stuck_threads: int | None = None
    #: First retry delay in seconds; doubles each attempt (0 = retry at once).
    retry_backoff: float = 1.0
    #: Upper bound of the retry delay in seconds.
    retry_backoff_max: float = 60.0
    #: Random spread of the retry delay, as a fraction (0.1 = +/-10 %).
    retry_jitter: float = 0.1
    #: Seconds the global-config status key lives without a refresh.
    global_config_status_ttl: int = 20
    #: Seconds between refreshes of the global-config status key.
    global_config_status_set_periodic: int = 17
    #: Whether workers run the scheduler (periodic tasks); one of them leads at a time.
    scheduler: bool = True
    #: Seconds the scheduler's leader lease lives without a renewal (renewed every third
    #: of it): a dead leader is replaced within this time plus one renewal period.
    scheduler_lease_ttl: float = 10.0

    _subscribers: list[Subscriber] = dataclasses.field(
        default_factory=list, init=False, compare=False
    )
    _dynamic_fields: dict[str, Any] = dataclasses.field(
        default_factory=dict, init=False, compare=False
    )
    _ready: bool = dataclasses.field(default=False, init=False, compare=False)

    _PRIVATE: ClassVar[frozenset[str]] = frozenset({"_subscribers", "_dynamic_fields", "_ready"})

    def __post_init__(self) -> None:
        self._apply_environ()
        self._validate()
        object.__setattr__(self, "_ready", True)

    # -- fields ---------------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name not in cls._PRIVATE]

    def _apply_environ(self) -> None:
        prefix = self.environ_prefix
        hints = _field_types()
        for name in self.field_names():
            raw = os.environ.get(prefix + name.upper())
            if raw is None:
                continue
            try:
                value = cast_env_value(raw, hints[name])
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{prefix}{name.upper()}={raw!r}: {exc}") from exc
            object.__setattr__(self, name, value)

    def _validate(self) -> None:
        if self.max_tasks_process < 1:
            raise ConfigError("max_tasks_process must be >= 1")
        if self.lease_timeout <= 0:
            raise ConfigError("lease_timeout must be > 0")
        if self.max_deliveries < 1:
            raise ConfigError("max_deliveries must be >= 1")
        if self.result_ttl <= 0:
            raise ConfigError("result_ttl must be > 0")
        if self.task_isolation not in ("thread", "process"):
            raise ConfigError(
                f"task_isolation must be 'thread' or 'process' (env {self.environ_prefix}"
                f"TASK_ISOLATION), got {self.task_isolation!r}"
            )
        if self.loop_block_warning < 0:
            raise ConfigError("loop_block_warning must be >= 0 seconds (0 = no warning)")
        if self.max_stuck_threads is not None and self.max_stuck_threads < 0:
            raise ConfigError(
                "max_stuck_threads must be >= 0 (0 = never replace stuck threads) or None "
                "(= the worker's concurrency)"
            )

    # -- dynamic fields and notifications ----------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        if key in self._PRIVATE or not self.__dict__.get("_ready", False):
            object.__setattr__(self, key, value)
            return
        if key in self.__dataclass_fields__:
            object.__setattr__(self, key, value)
        else:
            self._dynamic_fields[key] = value
        self._notify(key, value)

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails: dynamic fields live here.
        dynamic = self.__dict__.get("_dynamic_fields")
        if dynamic is not None and key in dynamic:
            return dynamic[key]
        raise AttributeError(f"QueueConfig has no field {key!r}")

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(config, key, value)` after every assignment."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        self._subscribers.remove(callback)

    def _notify(self, key: str, value: Any) -> None:
        for callback in list(self._subscribers):
            callback(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.field_names()}
        data.update(self._dynamic_fields)
        return data

    def __repr__(self) -> str:
        changed = []
        for f in dataclasses.fields(self):
            if f.name in self._PRIVATE:
                continue
            value = getattr(self, f.name)
            default = f.default_factory() if callable(f.default_factory) else f.default
            if value != default:
                if f.name.endswith("_url") and isinstance(value, str):
                    value = redact(value)  # a URL's password never reaches a log
                changed.append(f"{f.name}={value!r}")
        changed += [f"{k}={v!r}" for k, v in self._dynamic_fields.items()]
        return f"QueueConfig({', '.join(changed)})"


_TYPES_CACHE: dict[str, Any] = {}


def _field_types() -> dict[str, Any]:
    if not _TYPES_CACHE:
        _TYPES_CACHE.update(typing.get_type_hints(QueueConfig))
    return _TYPES_CACHE


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_NONE = {"none", "null"}


def cast_env_value(raw: str, annotation: Any) -> Any:
    """Cast an environment string to a field's declared type."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if raw.strip().lower() in _NONE:
            return None
        if len(members) != 1:
            raise TypeError(f"cannot cast to {annotation}")
        return cast_env_value(raw, members[0])
    if annotation is bool:
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("expected one of 1/0, true/false, yes/no, on/off")
    if annotation is int:
        return int(raw.strip())
    if annotation is float:
        return float(raw.strip())
    if annotation is str:
        return raw
    if origin is list or annotation is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if origin is collections.abc.Callable:
        raise TypeError("callables cannot be set from the environment")
    raise TypeError(f"cannot cast to {annotation}")


__all__ = ["DEFAULT_FORMAT", "QueueConfig", "cast_env_value"]
