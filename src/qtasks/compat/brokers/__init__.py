"""`qtasks.brokers` (QTasks 1.7): `AsyncRedisBroker`, `SyncRedisBroker`, read lazily from
`qtasks.compat.redis_components` (the Redis driver is an optional extra).

A broker here is a thin holder of a backend (`.backend`); pass one as
`QueueTasks(broker=...)`, or just give `broker_url=`.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AsyncRedisBroker", "SyncRedisBroker"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # imported lazily: the Redis driver is an optional extra
        return getattr(importlib.import_module("qtasks.compat.redis_components"), name)
    raise AttributeError(f"module 'qtasks.brokers' has no attribute {name!r}")
