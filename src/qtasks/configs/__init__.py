"""Configuration: `QueueConfig` (per app) and the global-config component names."""

from __future__ import annotations

from typing import Any

from qtasks.configs.config import QueueConfig

__all__ = ["AsyncRedisGlobalConfig", "QueueConfig", "SyncRedisGlobalConfig"]


def __getattr__(name: str) -> Any:
    if name in ("AsyncRedisGlobalConfig", "SyncRedisGlobalConfig"):
        from qtasks.backends import redis_names

        return getattr(redis_names, name)
    raise AttributeError(f"module 'qtasks.configs' has no attribute {name!r}")
