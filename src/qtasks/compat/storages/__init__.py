"""`qtasks.storages` (QTasks 1.7): `AsyncRedisStorage`, `SyncRedisStorage`, read lazily
from `qtasks.compat.redis_components`; thin holders of a backend (`.backend`)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AsyncRedisStorage", "SyncRedisStorage"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # imported lazily: the Redis driver is an optional extra
        return getattr(importlib.import_module("qtasks.compat.redis_components"), name)
    raise AttributeError(f"module 'qtasks.storages' has no attribute {name!r}")
