"""Registering plugins in a component's table (the runner itself is
`qtasks.core.hooks.HookRunner`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qtasks.core.hooks import GLOBAL_TRIGGER, PluginTable


def add_plugin(table: PluginTable, plugin: Any, trigger_names: Iterable[str] | None) -> None:
    """Register `plugin` for these hook names, or for every hook of the table ("Globals")."""
    table.add(plugin, list(trigger_names or [GLOBAL_TRIGGER]))


__all__ = ["GLOBAL_TRIGGER", "PluginTable", "add_plugin"]
