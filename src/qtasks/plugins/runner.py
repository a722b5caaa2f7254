"""Running plugin triggers: isolated, ordered, and changing only what they return."""

from __future__ import annotations

import inspect
from typing import Any

from qtasks.backends.bridge import Portal
from qtasks.core.callables import call_maybe_async
from qtasks.logs import Logger
from qtasks.plugins.base import BasePlugin

GLOBAL_TRIGGER = "Globals"

PluginTable = dict[str, list[BasePlugin]]


def add_plugin(table: PluginTable, plugin: BasePlugin, trigger_names: list[str] | None) -> None:
    for name in trigger_names or [GLOBAL_TRIGGER]:
        table.setdefault(name, []).append(plugin)


def has_plugins(table: PluginTable, name: str) -> bool:
    """Fast check used on hot paths before building a trigger's arguments."""
    return bool(table) and (name in table or GLOBAL_TRIGGER in table)


def plugins_for(table: PluginTable, name: str) -> list[BasePlugin]:
    return [*table.get(name, ()), *table.get(GLOBAL_TRIGGER, ())]


def all_plugins(*tables: PluginTable) -> list[BasePlugin]:
    """Each distinct plugin once, in registration order."""
    seen: dict[int, BasePlugin] = {}
    for table in tables:
        for plugins in table.values():
            for plugin in plugins:
                seen.setdefault(id(plugin), plugin)
    return list(seen.values())


async def trigger(
    table: PluginTable, name: str, log: Logger | None, **kwargs: Any
) -> dict[str, Any]:
    """Call every plugin for `name` in order. Each returned dict updates the keyword
    arguments the next plugin sees; the merged changes are returned. A plugin that
    raises or returns something other than a dict/None is logged and skipped."""
    changes: dict[str, Any] = {}
    for plugin in plugins_for(table, name):
        try:
            result = await call_maybe_async(plugin.trigger, name, **kwargs)
        except Exception:
            if log is not None:
                log.exception(f"Plugin {plugin.name!r} failed on trigger {name!r}")
            continue
        _merge(plugin, name, result, changes, kwargs, log)
    return changes


def trigger_sync(
    table: PluginTable, name: str, log: Logger | None, **kwargs: Any
) -> dict[str, Any]:
    """`trigger` for sync callers; an async plugin method runs on the portal thread."""
    changes: dict[str, Any] = {}
    for plugin in plugins_for(table, name):
        try:
            result = plugin.trigger(name, **kwargs)
            if inspect.isawaitable(result):
                result = _portal().call(_await, result)
        except Exception:
            if log is not None:
                log.exception(f"Plugin {plugin.name!r} failed on trigger {name!r}")
            continue
        _merge(plugin, name, result, changes, kwargs, log)
    return changes


async def _await(awaitable: Any) -> Any:
    return await awaitable


_PORTAL: Portal | None = None


def _portal() -> Portal:
    global _PORTAL
    if _PORTAL is None:
        _PORTAL = Portal("qtasks-plugins")
    return _PORTAL


def _merge(
    plugin: BasePlugin,
    name: str,
    result: Any,
    changes: dict[str, Any],
    kwargs: dict[str, Any],
    log: Logger | None,
) -> None:
    if result is None:
        return
    if not isinstance(result, dict):
        if log is not None:
            log.error(
                f"Plugin {plugin.name!r} returned {type(result).__name__} on {name!r}; "
                "a trigger must return a dict of the keys it changes, or None"
            )
        return
    changes.update(result)
    kwargs.update(result)


__all__ = [
    "GLOBAL_TRIGGER",
    "PluginTable",
    "add_plugin",
    "all_plugins",
    "has_plugins",
    "plugins_for",
    "trigger",
    "trigger_sync",
]
