"""Backends chosen by URL scheme, imported lazily, paired with a result store on demand.

Extras are installed from a checkout of qtasks (`pip install ".[redis]"`): the `qtasks`
on the package index is another project.

```
  memory://[name]        qtasks.backends.memory   in-process (tests, embedding)
  sqlite:///path         qtasks.backends.sqlite   a file (the default)
  redis://, rediss://    qtasks.backends.redis    pip install ".[redis]"
  postgresql://          qtasks.backends.postgres pip install ".[postgres]"
  amqp://, amqps://      qtasks.backends.amqp     RabbitMQ, a broker only (give storage_url);
                                                  pip install ".[amqp]"
```

A third-party backend registers its class (a `qtasks.core.ports.Backend`, or a
`Broker` or `ResultStore` that is only that) under the entry-point group
`qtasks.backends` with its scheme as the name.

`create_backend(url, storage_url=...)` pairs a broker with a separate result store
(`qtasks.backends.paired`) when the storage URL differs from the broker URL, and
requires a storage URL when the broker URL's backend is a broker only; see
docs/backends/README.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

from qtasks.backends.base import DEFAULT_QUEUE, Backend, Completion, Delivery, TaskRecord
from qtasks.core.ports import Backend as BackendPort
from qtasks.core.ports import Broker, ResultStore
from qtasks.exc import ConfigError, MissingDriverError

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.log import Log

DEFAULT_URL = "sqlite:///qtasks.db"

# scheme -> (module, class, driver module, pip extra)
_BUILTIN: dict[str, tuple[str, str, str | None, str | None]] = {
    "memory": ("qtasks.backends.memory", "MemoryBackend", None, None),
    "sqlite": ("qtasks.backends.sqlite", "SqliteBackend", None, None),
    "redis": ("qtasks.backends.redis", "RedisBackend", "redis", "redis"),
    "rediss": ("qtasks.backends.redis", "RedisBackend", "redis", "redis"),
    "postgresql": ("qtasks.backends.postgres", "PostgresBackend", "psycopg", "postgres"),
    "postgres": ("qtasks.backends.postgres", "PostgresBackend", "psycopg", "postgres"),
    "nats": ("qtasks.backends.nats", "NatsBackend", "nats", "nats"),
    "tls": ("qtasks.backends.nats", "NatsBackend", "nats", "nats"),
    "amqp": ("qtasks.backends.amqp", "AmqpBroker", "aio_pika", "amqp"),
    "amqps": ("qtasks.backends.amqp", "AmqpBroker", "aio_pika", "amqp"),
}


def backend_class(url: str) -> type[Any]:
    """The class serving `url` (a Backend, or a broker or result store only), or a clear
    error naming what to install."""
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
                    f"The {scheme}:// backend needs its driver: install qtasks with the "
                    f'"{extra}" extra (in a checkout of qtasks: pip install ".[{extra}]")'
                ) from exc
        cls: type[Any] = getattr(importlib.import_module(module_name), cls_name)
        return cls
    from importlib.metadata import entry_points

    for ep in entry_points(group="qtasks.backends"):
        if ep.name == scheme:
            loaded: type[Any] = ep.load()
            return loaded
    known = ", ".join(sorted(_BUILTIN))
    raise ConfigError(f"No backend for scheme {scheme!r} (known: {known})")


def create_backend(
    url: str,
    *,
    namespace: str,
    config: QueueConfig,
    log: Log,
    storage_url: str | None = None,
) -> Backend:
    """The backend for `url`; with a different `storage_url`, the broker of `url` paired
    with the result store of `storage_url` (final records there first, then the ack)."""
    cls = backend_class(url)
    options: dict[str, Any] = {"namespace": namespace, "config": config, "log": log}
    if storage_url is None or storage_url == url:
        if not issubclass(cls, BackendPort):
            raise ConfigError(
                f"{cls.__name__} ({_scheme(url)}://) is a broker only: give a store for the "
                "task records too, QueueTasks(..., storage_url='redis://host:6379/0') or the "
                "environment variable QTASKS_STORAGE_URL (sqlite:///qtasks.db on one machine)"
            )
        return cast(Backend, cls(url, **options))
    store_cls = backend_class(storage_url)
    # A whole backend made of a broker and a store of its own lends only its broker.
    cls = getattr(cls, "broker_part", cls)
    if not issubclass(cls, Broker):
        raise ConfigError(f"{cls.__name__} ({_scheme(url)}://) cannot be a broker")
    if not issubclass(store_cls, ResultStore):
        raise ConfigError(f"{store_cls.__name__} ({_scheme(storage_url)}://) cannot store results")
    from qtasks.backends.paired import PairedBackend

    return PairedBackend(cls(url, **options), store_cls(storage_url, **options))


def resolve_url(url: str | None, config: QueueConfig) -> str:
    """Explicit URL, else `config.broker_url` (env QTASKS_BROKER_URL), else SQLite here."""
    return url or config.broker_url or DEFAULT_URL


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


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
