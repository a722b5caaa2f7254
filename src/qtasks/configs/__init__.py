"""Configuration: `QueueConfig` (per app) and the global-config component names."""

from __future__ import annotations

from typing import Any

from qtasks.core.config import QueueConfig

__all__ = ["AsyncRedisGlobalConfig", "QueueConfig", "SyncRedisGlobalConfig"]


def __getattr__(name: str) -> Any:
    if name in ("AsyncRedisGlobalConfig", "SyncRedisGlobalConfig"):
        import importlib

        return getattr(importlib.import_module("qtasks.backends.redis_names"), name)
    raise AttributeError(f"module 'qtasks.configs' has no attribute {name!r}")
