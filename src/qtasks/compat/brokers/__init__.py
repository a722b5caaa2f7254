"""`qtasks.brokers` (QTasks 1.7): `AsyncRedisBroker`, `SyncRedisBroker`, read lazily from
`qtasks.compat.redis_components` (the Redis driver is an optional extra),
`AsyncRabbitMQBroker`, `SyncRabbitMQBroker` from `qtasks.compat.amqp_components` (the
RabbitMQ broker paired with a result store), and the Kafka and socket broker names of
1.7, which this version does not ship: constructing one raises `ConfigError` naming what
to use (`qtasks.compat.components`).

A broker here is a thin holder of a backend (`.backend`); pass one as
`QueueTasks(broker=...)`, or just give `broker_url=`.
"""

from __future__ import annotations

import importlib
from typing import Any

_REDIS = ("AsyncRedisBroker", "SyncRedisBroker")
_AMQP = ("AsyncRabbitMQBroker", "SyncRabbitMQBroker")
_MISSING = ("AsyncKafkaBroker", "AsyncSocketBroker", "SyncKafkaBroker", "SyncSocketBroker")
__all__ = [*_REDIS, *_AMQP, *_MISSING]


def __getattr__(name: str) -> Any:
    if name in _REDIS:  # imported lazily: the Redis driver is an optional extra
        return getattr(importlib.import_module("qtasks.compat.redis_components"), name)
    if name in _AMQP:  # imported lazily: aio-pika is an optional extra
        return getattr(importlib.import_module("qtasks.compat.amqp_components"), name)
    if name in _MISSING:
        return getattr(importlib.import_module("qtasks.compat.components"), name)
    raise AttributeError(f"module 'qtasks.brokers' has no attribute {name!r}")
