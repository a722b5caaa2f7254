"""QTasks 1.7's plugin mixins, for components of one's own that keep plugins the
original way: `self.plugins` maps a trigger name to plugins, `add_plugin()` fills it and
`_plugin_trigger()` calls each plugin's `trigger(name, **kwargs)`.

A plugin's returned dict is its change; `args`/`kw` it returns are passed on to the next
plugin. `return_last=True` gives the changes merged into one dict (later plugins win),
otherwise the list of every plugin's result. With `safe=True` a failing plugin is logged
and, unless `continue_on_fail`, ends the round. The `Globals` trigger receives every
trigger. The cache mixins keep a `plugin_cache` value per plugin name between calls: a
plugin returns `{"plugin_cache": value}` to store it and receives it as the keyword
`plugin_cache` next time.
"""

from __future__ import annotations

import inspect
import traceback
from typing import Any, ClassVar

from qtasks.core.steps import Flow, run_async, run_sync


class SyncPluginCacheMixin:
    """Per-plugin cache, used as `with SyncPluginCacheMixin(plugin=p) as cached:`."""

    cache: ClassVar[dict[str, Any]] = {}

    def __init__(self, plugin: Any) -> None:
        self.plugin = plugin

    def __enter__(self) -> Any:
        return self.cache.get(getattr(self.plugin, "name", "") or "")

    def __exit__(self, *exc: object) -> None:
        return None


class AsyncPluginCacheMixin(SyncPluginCacheMixin):
    """The same cache, also usable with `async with`."""

    cache: ClassVar[dict[str, Any]] = {}

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        return None


class _PluginMixin:
    plugins: dict[str, list[Any]]
    log: Any = None
    plugins_cache: ClassVar[type[SyncPluginCacheMixin]] = SyncPluginCacheMixin

    def add_plugin(self, plugin: Any, trigger_names: list[str] | None = None) -> None:
        """Register `plugin` for each trigger name (`["Globals"]`: every trigger)."""
        if not hasattr(self, "plugins") or self.plugins is None:
            self.plugins = {}
        for trigger in trigger_names or ["Globals"]:
            self.plugins.setdefault(trigger, []).append(plugin)

    def _round(self, name: str, kwargs: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
        plugins = getattr(self, "plugins", None) or {}
        calls = []
        for plugin in [*plugins.get(name, []), *plugins.get("Globals", [])]:
            call_kwargs = dict(kwargs)
            cached = self.plugins_cache(plugin=plugin).__enter__()
            if cached is not None:
                call_kwargs["plugin_cache"] = cached
            calls.append((plugin, call_kwargs))
        return calls

    def _keep(self, plugin: Any, result: Any, kwargs: dict[str, Any], out: list[Any]) -> None:
        if not isinstance(result, dict):
            return
        result = dict(result)
        if "plugin_cache" in result:
            self.plugins_cache.cache[getattr(plugin, "name", "") or ""] = result.pop("plugin_cache")
        for key in ("args", "kw"):
            if key in result:
                kwargs[key] = result[key]
        out.append(result)

    def _failed(self, plugin: Any, exc: Exception) -> None:
        text = "".join(traceback.format_exception(exc))
        message = f"Plugin {getattr(plugin, 'name', plugin)!r} failed:\n{text}"
        if self.log is not None:
            self.log.error(message)

    @staticmethod
    def _answer(results: list[dict[str, Any]], return_last: bool | None) -> Any:
        if not return_last:
            return results
        merged: dict[str, Any] = {}
        for result in results:
            merged.update(result)
        return merged

    def _trigger_flow(
        self,
        name: str,
        kwargs: dict[str, Any],
        return_last: bool | None,
        safe: bool,
        continue_on_fail: bool,
    ) -> Flow[Any]:
        """One round over the plugins, written once for both mixins: each call is yielded
        as `(plugin, kwargs)` and comes back as `(result, error)`."""
        results: list[dict[str, Any]] = []
        for plugin, call_kwargs in self._round(name, kwargs):
            call_kwargs.update({k: kwargs[k] for k in ("args", "kw") if k in kwargs})
            result, error = yield plugin, name, call_kwargs
            if error is not None:
                if not safe:
                    raise error
                self._failed(plugin, error)
                if not continue_on_fail:
                    break
                continue
            self._keep(plugin, result, kwargs, results)
        return self._answer(results, return_last)


def _call_sync(step: tuple[Any, str, dict[str, Any]]) -> tuple[Any, Exception | None]:
    plugin, name, kwargs = step
    try:
        return plugin.trigger(name, **kwargs), None
    except Exception as exc:
        return None, exc


async def _call_async(step: tuple[Any, str, dict[str, Any]]) -> tuple[Any, Exception | None]:
    plugin, name, kwargs = step
    try:
        result = plugin.trigger(name, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result, None
    except Exception as exc:
        return None, exc


class SyncPluginMixin(_PluginMixin):
    """`add_plugin` and a sync `_plugin_trigger` for a component of one's own."""

    def _plugin_trigger(
        self,
        name: str,
        *args: Any,
        return_last: bool | None = None,
        safe: bool = True,
        continue_on_fail: bool = False,
        **kwargs: Any,
    ) -> Any:
        flow = self._trigger_flow(name, kwargs, return_last, safe, continue_on_fail)
        return run_sync(flow, _call_sync)


class AsyncPluginMixin(_PluginMixin):
    """`add_plugin` and an async `_plugin_trigger` (plugins may be sync or async)."""

    plugins_cache: ClassVar[type[SyncPluginCacheMixin]] = AsyncPluginCacheMixin

    async def _plugin_trigger(
        self,
        name: str,
        *args: Any,
        return_last: bool | None = None,
        safe: bool = True,
        continue_on_fail: bool = False,
        **kwargs: Any,
    ) -> Any:
        flow = self._trigger_flow(name, kwargs, return_last, safe, continue_on_fail)
        return await run_async(flow, _call_async)


__all__ = [
    "AsyncPluginCacheMixin",
    "AsyncPluginMixin",
    "SyncPluginCacheMixin",
    "SyncPluginMixin",
]
