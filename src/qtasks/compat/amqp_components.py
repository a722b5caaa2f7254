"""QTasks 1.7's RabbitMQ broker names, as thin holders of a paired backend.

`AsyncRabbitMQBroker(url="amqp://...", storage=AsyncRedisStorage(...))` puts the task
messages on RabbitMQ (`qtasks.backends.amqp`) and the task records in the storage's
backend; `QueueTasks(broker=...)` then uses `broker.backend`. Without `storage`, the
records go to `storage_url` of the config (env `QTASKS_STORAGE_URL`), and without that
to 1.7's default storage, Redis at `redis://localhost:6379/0`. Unlike 1.7's broker, a
message is acknowledged only after the task's final record is stored.
`queue_name` and `exchange_name` are kept for reading: queue names are qtasks' own.
"""

from __future__ import annotations

from typing import Any

from qtasks.backends import backend_class
from qtasks.backends.amqp import AmqpBroker
from qtasks.backends.paired import PairedBackend
from qtasks.compat.components import BaseBroker
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

DEFAULT_AMQP_URL = "amqp://guest:guest@localhost/"
#: 1.7's RabbitMQ broker made a Redis storage when given none.
DEFAULT_STORAGE_URL = "redis://localhost:6379/0"


class _RabbitMQBroker(BaseBroker):
    def __init__(
        self,
        name: str = "QueueTasks",
        url: str | None = None,
        storage: Any = None,
        queue_name: str = "task_queue",
        exchange_name: str = "task_exchange",
        log: Logger | None = None,
        config: QueueConfig | None = None,
        events: Any = None,
    ) -> None:
        config = config if config is not None else QueueConfig()
        log = log if log is not None else Logger(name, type(self).__name__)
        super().__init__(storage, name, log, config, events)
        self.url = url or DEFAULT_AMQP_URL
        self.queue_name = f"{name}:{queue_name}"
        self.exchange_name = exchange_name
        options: dict[str, Any] = {"namespace": name, "config": config, "log": log}
        store = getattr(storage, "backend", None)
        if store is None:
            store_url = config.storage_url or DEFAULT_STORAGE_URL
            store = backend_class(store_url)(store_url, **options)
        self.backend = PairedBackend(AmqpBroker(self.url, **options), store)


class AsyncRabbitMQBroker(_RabbitMQBroker):
    async def stop(self) -> None:
        await self.backend.close()


class SyncRabbitMQBroker(_RabbitMQBroker):
    def stop(self) -> None:
        self.backend.close_sync()


__all__ = ["AsyncRabbitMQBroker", "SyncRabbitMQBroker"]
