"""`BasePlugin`: a class of hooks; every method may be sync or async.

Override the typed hook methods of `qtasks.core.hooks.Hooks` (and register with
`app.add_plugin(plugin)`), or, as in QTasks 1.7, `trigger(name, **kwargs)` (and register
for trigger names)."""

from __future__ import annotations

from typing import Any

from qtasks.core.hooks import Changes, Hooks


class BasePlugin(Hooks):
    def __init__(self, name: str | None = None, *args: Any, **kwargs: Any) -> None:
        self.name = name or type(self).__name__
        self.plugin_cache: dict[str, Any] = {}

    def trigger(self, name: str, *args: Any, **kwargs: Any) -> Changes:
        """Called for each trigger the plugin is registered on. Return a dict to change
        the keys it names, or None to change nothing."""
        return None

    def start(self, *args: Any, **kwargs: Any) -> Any:
        """Called once when the app's worker starts."""

    def stop(self, *args: Any, **kwargs: Any) -> Any:
        """Called once when the app's worker stops."""


__all__ = ["BasePlugin"]
