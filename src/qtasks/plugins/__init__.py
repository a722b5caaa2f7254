"""Plugins: `BasePlugin` and the built-in ones.

The argument injectors (Pydantic models, `Depends`, `AsyncState`/`SyncState`) are built
into every worker; their `Async*`/`Sync*` plugin names are kept for code written for the
original QTasks and name one implementation each.
"""

from qtasks.plugins.base import BasePlugin
from qtasks.plugins.depends import AsyncDependsPlugin, Depends, SyncDependsPlugin
from qtasks.plugins.pydantic import AsyncPydanticWrapperPlugin, SyncPydanticWrapperPlugin
from qtasks.plugins.states import AsyncState, AsyncStatePlugin, SyncState, SyncStatePlugin

__all__ = [
    "AsyncDependsPlugin",
    "AsyncPydanticWrapperPlugin",
    "AsyncState",
    "AsyncStatePlugin",
    "BasePlugin",
    "Depends",
    "SyncDependsPlugin",
    "SyncPydanticWrapperPlugin",
    "SyncState",
    "SyncStatePlugin",
]
