"""Backends chosen by URL scheme, imported lazily.

A third-party backend registers a `Backend` subclass under the entry-point group
`qtasks.backends` with its scheme as the name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from qtasks.backends.base import DEFAULT_QUEUE, Backend, Completion, Delivery, TaskRecord
from qtasks.exc import ConfigError, MissingDriverError

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.log import Log as Logger

DEFAULT_URL = "sqlite:///qtasks.db"

# scheme -> (module, class, driver module, pip extra)
_BUILTIN: dict[str, tuple[str, str, str | None, str | None]] = {
    "memory": ("qtasks.backends.memory", "MemoryBackend", None, None),
    "sqlite": ("qtasks.backends.sqlite", "SqliteBackend", None, None),
    "redis": ("qtasks.backends.redis", "RedisBackend", "redis", "redis"),
    "rediss": ("qtasks.backends.redis", "RedisBackend", "redis", "redis"),
}


def backend_class(url: str) -> type[Backend]:
    """The Backend class serving `url`, or a clear error naming what to install."""
    if "://" not in url:
        raise ConfigError(
            f"Invalid backend URL {url!r}: expected scheme://..., e.g. sqlite:///qtasks.db, "
            "memory://, redis://localhost:6379/0"
        )
    scheme = url.split("://", 1)[0].lower()
    if scheme in _BUILTIN:
        module_name, cls_name, driver, extra = _BUILTIN[scheme]
        if driver is not None:
            try:
                importlib.import_module(driver)
            except ImportError as exc:
                raise MissingDriverError(
                    f'The {scheme}:// backend needs its driver: pip install "qtasks[{extra}]"'
                ) from exc
        cls: type[Backend] = getattr(importlib.import_module(module_name), cls_name)
        return cls
    from importlib.metadata import entry_points

    for ep in entry_points(group="qtasks.backends"):
        if ep.name == scheme:
            loaded: type[Backend] = ep.load()
            return loaded
    known = ", ".join(sorted(_BUILTIN))
    raise ConfigError(f"No backend for scheme {scheme!r} (known: {known})")


def create_backend(url: str, *, namespace: str, config: QueueConfig, log: Logger) -> Backend:
    return backend_class(url)(url, namespace=namespace, config=config, log=log)


def resolve_url(url: str | None, config: QueueConfig) -> str:
    """Explicit URL, else `config.broker_url` (env QTASKS_BROKER_URL), else SQLite here."""
    return url or config.broker_url or DEFAULT_URL


__all__ = [
    "DEFAULT_QUEUE",
    "DEFAULT_URL",
    "Backend",
    "Completion",
    "Delivery",
    "TaskRecord",
    "backend_class",
    "create_backend",
    "resolve_url",
]
