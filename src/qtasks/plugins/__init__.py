"""Plugins: `BasePlugin` and the built-in ones.

`AsyncgRPCPlugin` and `SyncgRPCPlugin` (`qtasks.plugins.grpc`) serve the app to
producers in any language over gRPC.

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
    """`AsyncgRPCPlugin` / `SyncgRPCPlugin` (imported on first use: they need the `grpc`
    extra), and QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    if name in ("AsyncgRPCPlugin", "SyncgRPCPlugin"):
        from qtasks.plugins import grpc

        return getattr(grpc, name)
    return compat_attribute(__name__, name)
