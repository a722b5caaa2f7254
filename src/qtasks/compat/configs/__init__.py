"""QTasks 1.7 names of `qtasks.configs` (a real package: `QueueConfig`):
`AsyncRedisGlobalConfig`, `SyncRedisGlobalConfig`, read lazily from
`qtasks.compat.redis_components` (the Redis driver is an optional extra). Also the package
of `qtasks.configs.config`."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AsyncRedisGlobalConfig", "SyncRedisGlobalConfig"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("qtasks.compat.redis_components"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
