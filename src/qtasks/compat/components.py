"""QTasks 1.7's component bases and the components qtasks does not ship.

The original split an app into a broker, a storage, a global config, a worker and a
starter, each with its own class. qtasks has one backend per app and one engine, so these
names survive as bases for `isinstance` checks and as settings holders:

- `BaseBroker`, `BaseStorage`, `BaseGlobalConfig`, `BaseWorker`, `BaseStarter`: the bases of
  the 1.7 component classes (`AsyncRedisBroker` is a `BaseBroker`, `AsyncWorker` a
  `BaseWorker`). A component written against the original's abstract methods cannot be
  plugged into the engine; qtasks' own contract is `qtasks.core.ports`.
- `AsyncStarter`, `SyncStarter`: settings holders like the 1.7 workers; the app starts
  its server itself (`app.run_forever()`).
- The Kafka and socket brokers of the original are not part of this version:
  constructing one raises `ConfigError` naming what to use instead (its RabbitMQ broker
  is `qtasks.compat.amqp_components`). No Kafka backend ships because none could be
  tested against a Kafka server; docs/backends/kafka.md says how one would map.
"""

from __future__ import annotations

from typing import Any

from qtasks.core.config import QueueConfig
from qtasks.exc import ConfigError


class _Component:
    """Name, log, config and events, as every 1.7 component took them."""

    def __init__(
        self,
        name: str | None = "QueueTasks",
        log: Any = None,
        config: QueueConfig | None = None,
        events: Any = None,
    ) -> None:
        # Any: the Redis components narrow these, as the original's did
        self.name: Any = name
        self.log: Any = log
        self.config: Any = config
        self.events: Any = events
        self.plugins: dict[str, list[Any]] = {}

    def update_config(self, config: QueueConfig) -> None:
        """Use `config` from now on (the app pushes its config into its components)."""
        self.config = config

    def add_plugin(self, plugin: Any, trigger_names: list[str] | None = None) -> None:
        """Keep `plugin` for these triggers; the app's own plugin table runs plugins
        (`app.add_plugin(..., component=...)`)."""
        for trigger in trigger_names or []:
            self.plugins.setdefault(trigger, []).append(plugin)


class BaseBroker(_Component):
    """Base of QTasks 1.7's brokers: `(storage, name, log, config, events)`."""

    def __init__(
        self,
        storage: Any = None,
        name: str | None = None,
        log: Any = None,
        config: QueueConfig | None = None,
        events: Any = None,
    ) -> None:
        super().__init__(name, log, config, events)
        self.storage = storage


class BaseStorage(_Component):
    """Base of QTasks 1.7's storages: `(name, global_config, log, config, events)`."""

    def __init__(
        self,
        name: str | None = "QueueTasks",
        global_config: Any = None,
        log: Any = None,
        config: QueueConfig | None = None,
        events: Any = None,
    ) -> None:
        super().__init__(name, log, config, events)
        self.global_config = global_config


class BaseGlobalConfig(_Component):
    """Base of QTasks 1.7's global configs: `(name, log, config, events)`."""


class BaseWorker(_Component):
    """Base of QTasks 1.7's workers: `(name, broker, log, config, events)`."""

    def __init__(
        self,
        name: str | None = "QueueTasks",
        broker: Any = None,
        log: Any = None,
        config: QueueConfig | None = None,
        events: Any = None,
    ) -> None:
        super().__init__(name, log, config, events)
        self.broker = broker


class BaseStarter(_Component):
    """Base of QTasks 1.7's starters: `(name, broker, worker, log, config, events)`."""

    def __init__(
        self,
        name: str | None = None,
        broker: Any = None,
        worker: Any = None,
        log: Any = None,
        config: QueueConfig | None = None,
        events: Any = None,
    ) -> None:
        super().__init__(name, log, config, events)
        self.broker = broker
        self.worker = worker

    def update_configs(self, config: QueueConfig) -> None:
        """Push `config` into this starter and the components it holds."""
        self.update_config(config)
        for part in (self.worker, self.broker, getattr(self.broker, "storage", None)):
            if part is not None and hasattr(part, "config"):
                part.config = config


class AsyncStarter(BaseStarter):
    """Settings of an async app's server; `app.run_forever()` starts it."""


class SyncStarter(BaseStarter):
    """Settings of a sync app's server; `app.run_forever()` starts it."""


class _MissingBroker(BaseBroker):
    """A broker of the original this version does not include."""

    instead = "broker_url='redis://...' (or sqlite:///path.db on one machine)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ConfigError(
            f"{type(self).__name__} is not part of qtasks {_version()}: use "
            f"QueueTasks({self.instead})"
        )


class _MissingKafkaBroker(_MissingBroker):
    instead = (
        "broker_url='amqp://...', storage_url='redis://...' (RabbitMQ) or "
        "broker_url='redis://...'. No Kafka backend ships: none could be tested against a "
        "Kafka server, and Kafka's committed offsets are not per-task acknowledgements "
        "(docs/backends/kafka.md says how one would map onto qtasks"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ConfigError(
            f"{type(self).__name__} is not part of qtasks {_version()}: use "
            f"QueueTasks({self.instead}))"
        )


class AsyncKafkaBroker(_MissingKafkaBroker):
    """QTasks 1.7's Kafka broker (not in this version: see docs/backends/kafka.md)."""


class SyncKafkaBroker(_MissingKafkaBroker):
    """QTasks 1.7's Kafka broker (not in this version: see docs/backends/kafka.md)."""


class AsyncSocketBroker(_MissingBroker):
    """QTasks 1.7's socket broker (not in this version)."""


class SyncSocketBroker(_MissingBroker):
    """QTasks 1.7's socket broker (not in this version)."""


def _version() -> str:
    from qtasks.version import __version__

    return __version__


__all__ = [
    "AsyncKafkaBroker",
    "AsyncSocketBroker",
    "AsyncStarter",
    "BaseBroker",
    "BaseGlobalConfig",
    "BaseStarter",
    "BaseStorage",
    "BaseWorker",
    "SyncKafkaBroker",
    "SyncSocketBroker",
    "SyncStarter",
]
