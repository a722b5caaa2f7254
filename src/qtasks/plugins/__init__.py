"""Plugins: `BasePlugin` and the built-in ones.

The argument injectors (Pydantic models, `Depends`, `AsyncState`/`SyncState`) are built
into every worker. Their QTasks 1.7 plugin names (`AsyncDependsPlugin`,
`SyncStatePlugin`, ...) still import from here; they live in `qtasks.compat`.
"""

from typing import Any

from qtasks._compat_hook import compat_attribute
from qtasks.plugins.base import BasePlugin
from qtasks.plugins.depends import Depends
from qtasks.plugins.states import AsyncState, SyncState

__all__ = [
    "AsyncState",
    "BasePlugin",
    "Depends",
    "SyncState",
]


def __getattr__(name: str) -> Any:
    """QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    return compat_attribute(__name__, name)
