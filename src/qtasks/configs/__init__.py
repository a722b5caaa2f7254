"""Configuration: `QueueConfig`, one per app (defined in `qtasks.core.config`).

QTasks 1.7's `AsyncRedisGlobalConfig` and `SyncRedisGlobalConfig` still import from
here; they live in `qtasks.compat`.
"""

from __future__ import annotations

from typing import Any

from qtasks._compat_hook import compat_attribute
from qtasks.core.config import QueueConfig

__all__ = ["QueueConfig"]


def __getattr__(name: str) -> Any:
    """QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    return compat_attribute(__name__, name)
