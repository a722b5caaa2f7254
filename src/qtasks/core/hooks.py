"""Typed hooks: every point where a plugin may observe or change what qtasks does.

`Hooks` lists each hook as a no-op method; the names are QTasks 1.7's trigger names, so a
plugin written for it keeps working. A plugin either overrides the hook methods it needs
(typed), or, the 1.7 way, implements `trigger(name, **kwargs)` and is registered for
trigger names. A hook returns None or a dict of the keyword arguments it changes; later
plugins see the changes, and the caller receives them merged.

`HookRunner` calls the listeners of a hook in registration order (those registered for the
name, then those registered for every name of their component, "Globals"). It knows which
hooks have listeners without calling anything, so a hook nobody listens to costs one set
lookup. A listener that raises is logged and skipped, except for `HookAbort` in a hook
that runs for one task before its outcome (`ABORTABLE_HOOKS`): that is a plugin's way to
fail the task at hand, and it propagates to the caller."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from qtasks.core.steps import Flow, run_async, run_sync
from qtasks.exc import HookAbort, PluginError

if TYPE_CHECKING:
    from qtasks.core.log import Log

#: The registration key of a plugin that listens to every hook of its component.
GLOBAL_TRIGGER = "Globals"

#: What a hook returns: the keyword arguments it changes, or None; an async hook returns
#: an awaitable of it.
Changes = dict[str, Any] | None | Awaitable[dict[str, Any] | None]

#: Component tables: "app" holds the app's own plugins, the others QTasks 1.7's
#: component names.
COMPONENTS = ("app", "worker", "broker", "storage", "global_config", "starter")


class Hooks:
    """Every hook, as a no-op. Override the ones a plugin needs; each receives keyword
    arguments only and may return a dict of the ones it changes."""

    # --- app (enqueue and client calls) ---------------------------------------------------------
    def qtasks_add_task_before_broker(self, **kw: Any) -> Changes:
        """Before a record is built: qtasks, broker, task_name, priority, args, kw.
        May change task_name, priority, args, kw, extra."""

    def qtasks_add_task_after_broker(self, **kw: Any) -> Changes:
        """After enqueue: qtasks, broker, task_name, priority, args, kwargs."""

    def qtasks_get(self, **kw: Any) -> Changes:
        """A record read by `app.get`: qtasks, broker, task. May change task."""

    def qtasks_stop(self, **kw: Any) -> Changes:
        """`app.stop()`: qtasks, starter."""

    def qtasks_ping(self, **kw: Any) -> Changes:
        """`app.ping()`: qtasks, global_config."""

    def qtasks_flush_all(self, **kw: Any) -> Changes:
        """`app.flush_all()`: qtasks, broker."""

    # --- broker ---------------------------------------------------------
    def broker_listen_start(self, **kw: Any) -> Changes:
        """A consumer starts: broker, worker."""

    def broker_add_worker(self, **kw: Any) -> Changes:
        """A fetched task: broker, worker, task_name, uuid, priority, args, kw, created_at."""

    def broker_add_before(self, **kw: Any) -> Changes:
        """Before a record is stored: broker, storage, model. May change model."""

    def broker_add_after(self, **kw: Any) -> Changes:
        """After a record is stored: broker, storage, model."""

    def broker_get(self, **kw: Any) -> Changes:
        """A record read: broker, task. May change task."""

    def broker_update(self, **kw: Any) -> Changes:
        """A status update: broker, kw. May change kw."""

    def broker_start(self, **kw: Any) -> Changes:
        """Server start: broker, worker."""

    def broker_stop(self, **kw: Any) -> Changes:
        """Server stop: broker."""

    def broker_remove_finished_task(self, **kw: Any) -> Changes:
        """A final record about to be stored: broker, storage, model. May change model."""

    def broker_running_older_tasks(self, **kw: Any) -> Changes:
        """A worker's periodic upkeep (every few seconds): broker, worker."""

    def broker_flush_all(self, **kw: Any) -> Changes:
        """`app.flush_all()`: broker."""

    # --- storage ---------------------------------------------------------
    def storage_add(self, **kw: Any) -> Changes:
        """A new record: storage, uuid, task_status. May change both."""

    def storage_get(self, **kw: Any) -> Changes:
        """A record read: storage, result. May change result."""

    def storage_get_all(self, **kw: Any) -> Changes:
        """Records read: storage, results. May change results."""

    def storage_update(self, **kw: Any) -> Changes:
        """A status update: storage, kw. May change kw."""

    def storage_remove_finished_task(self, **kw: Any) -> Changes:
        """A final record stored: storage, task_broker, model."""

    def storage_start(self, **kw: Any) -> Changes:
        """Server start: storage."""

    def storage_stop(self, **kw: Any) -> Changes:
        """Server stop: storage."""

    def storage_add_process(self, **kw: Any) -> Changes:
        """A task started: storage, task_data, priority."""

    def storage_running_older_tasks(self, **kw: Any) -> Changes:
        """Kept for QTasks 1.7 plugins; leases replace it and it is not called."""

    def storage_delete_finished_tasks(self, **kw: Any) -> Changes:
        """Kept for QTasks 1.7 plugins; record TTLs replace it and it is not called."""

    def storage_flush_all(self, **kw: Any) -> Changes:
        """`app.flush_all()`: storage."""

    # --- global config (shared settings) ---------------------------------------------------------
    def global_config_set(self, **kw: Any) -> Changes:
        """A setting written: global_config, name_, key, value."""

    def global_config_get(self, **kw: Any) -> Changes:
        """A setting read: global_config, get. May change get."""

    def global_config_get_all(self, **kw: Any) -> Changes:
        """Settings read: global_config, get. May change get."""

    def global_config_get_match(self, **kw: Any) -> Changes:
        """Settings read by pattern: global_config, get. May change get."""

    def global_config_start(self, **kw: Any) -> Changes:
        """Server start: global_config."""

    def global_config_stop(self, **kw: Any) -> Changes:
        """Server stop: global_config."""

    def global_config_set_status(self, **kw: Any) -> Changes:
        """Once, before the app's status is first published: global_config."""

    # --- starter ---------------------------------------------------------
    def starter_start(self, **kw: Any) -> Changes:
        """Server start: starter."""

    def starter_stop(self, **kw: Any) -> Changes:
        """Server stop: starter."""

    # --- worker ---------------------------------------------------------
    def worker_start(self, **kw: Any) -> Changes:
        """A worker starts: worker."""

    def worker_stop(self, **kw: Any) -> Changes:
        """A worker stopped: worker."""

    def worker_add(self, **kw: Any) -> Changes:
        """A fetched task: worker, task_name, uuid, priority, args, kw, created_at."""

    def worker_execute_before(self, **kw: Any) -> Changes:
        """Before a task runs: worker, task_broker, task_func, model. May change model."""

    def worker_execute_after(self, **kw: Any) -> Changes:
        """After a task's final record is decided: task_func, task_broker, model."""

    def worker_run_task_before(self, **kw: Any) -> Changes:
        """Before the executor: worker, task_func, task_broker. May change task_func."""

    def worker_task_error_retry(self, **kw: Any) -> Changes:
        """A failed attempt that will be retried: broker, task_func, task_broker, trace,
        model. May change model."""

    def worker_remove_finished_task(self, **kw: Any) -> Changes:
        """A final record about to be acknowledged: worker, broker, task_func,
        task_broker, model. May change model."""

    def worker_tasks_fetched(self, **kw: Any) -> Changes:
        """Once per fetch, not per task: worker, deliveries (the Deliveries leased)."""

    def worker_tasks_acked(self, **kw: Any) -> Changes:
        """Once per stored batch of final records: worker, completions (Completions)."""

    # --- task executor ---------------------------------------------------------
    def task_executor_args_replace(self, **kw: Any) -> Changes:
        """task_executor, args, kw, args_info. May change args, kw."""

    def task_executor_before_execute(self, **kw: Any) -> Changes:
        """task_executor."""

    def task_executor_middlewares_execute(self, **kw: Any) -> Changes:
        """task_executor, middlewares_before or middlewares_after."""

    def task_executor_run_task(self, **kw: Any) -> Changes:
        """task_executor, result. May change result."""

    def task_executor_run_task_gen(self, **kw: Any) -> Changes:
        """task_executor, results. May change results."""

    def task_executor_run_task_trigger_error(self, **kw: Any) -> Changes:
        """`ctx.plugin_error(...)` raised: task_executor, task_func, task_broker, e.
        May answer with result."""

    def task_executor_after_execute(self, **kw: Any) -> Changes:
        """task_executor."""

    def task_executor_after_execute_result_replace(self, **kw: Any) -> Changes:
        """task_executor, result. May change result."""

    def task_executor_decode(self, **kw: Any) -> Changes:
        """task_executor, result (to be stored). May change result."""

    def task_executor_task_close(self, **kw: Any) -> Changes:
        """Always, once the function has run or failed: task_executor, task_func,
        task_broker."""

    # --- stats ---------------------------------------------------------
    def stats_inspect(self, **kw: Any) -> Changes:
        """stats."""


#: Every hook name.
HOOK_NAMES: frozenset[str] = frozenset(
    name for name, value in vars(Hooks).items() if not name.startswith("_") and callable(value)
)

_PREFIXES = (
    ("qtasks_", "app"),
    ("stats_", "app"),
    ("broker_", "broker"),
    ("storage_", "storage"),
    ("global_config_", "global_config"),
    ("starter_", "starter"),
    ("worker_", "worker"),
    ("task_executor_", "worker"),
)


#: Hooks that run for one task, before its outcome is decided: a `HookAbort` there fails
#: that task. Elsewhere (lifecycle, fetch, acknowledgement) it is logged like any error.
ABORTABLE_HOOKS: frozenset[str] = frozenset(
    {
        "worker_execute_before",
        "worker_run_task_before",
        "task_executor_args_replace",
        "task_executor_before_execute",
        "task_executor_middlewares_execute",
        "task_executor_run_task",
        "task_executor_run_task_gen",
        "task_executor_after_execute",
        "task_executor_after_execute_result_replace",
        "task_executor_decode",
    }
)


def component_of(name: str) -> str:
    """The component table a hook's listeners are registered in."""
    for prefix, component in _PREFIXES:
        if name.startswith(prefix):
            return component
    return "app"


def overridden_hooks(plugin: object) -> list[str]:
    """The hook methods `plugin`'s class overrides (a typed plugin's listening list)."""
    cls = type(plugin)
    return [
        name for name in sorted(HOOK_NAMES) if getattr(cls, name, None) is not getattr(Hooks, name)
    ]


class PluginTable(dict[str, list[Any]]):
    """Hook name (or "Globals") -> plugins, in registration order. Tells its runner when
    it changes, so the runner's view of who listens is never stale."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchers: list[Callable[[], None]] = []

    def watch(self, callback: Callable[[], None]) -> None:
        self._watchers.append(callback)

    def add(self, plugin: Any, names: Iterable[str]) -> None:
        """Register `plugin` for `names`; once per name however often it is added."""
        for name in names:
            listeners = self.setdefault(name, [])
            if not any(p is plugin for p in listeners):
                listeners.append(plugin)
        self._changed()

    def _changed(self) -> None:
        for callback in self._watchers:
            callback()

    def __setitem__(self, key: str, value: list[Any]) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def setdefault(self, key: str, default: Any = None) -> Any:
        had = key in self
        value = super().setdefault(key, default)
        if not had:
            self._changed()
        return value

    def clear(self) -> None:
        super().clear()
        self._changed()

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._changed()
        return value

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()


#: How a sync caller waits for an awaitable a plugin returned (the app passes its portal).
Bridge = Callable[[Awaitable[Any]], Any]


class HookRunner:
    """Runs hooks over one app's component tables (see the module docs)."""

    def __init__(
        self, tables: Mapping[str, PluginTable], log: Log | None, bridge: Bridge | None = None
    ) -> None:
        self.tables = tables
        self.log = log
        self.bridge = bridge
        self._active: frozenset[str] | None = None
        #: QTasks 1.7's `plugin_cache`: what each plugin (by name) returned under that key,
        #: given back to it as the keyword `plugin_cache` on its next call.
        self._caches: dict[str, Any] = {}
        for table in tables.values():
            table.watch(self._invalidate)

    def _invalidate(self) -> None:
        self._active = None

    @property
    def active(self) -> frozenset[str]:
        """The hook names that have at least one listener."""
        active = self._active
        if active is None:
            names: set[str] = set()
            for component, table in self.tables.items():
                if not table:
                    continue
                if GLOBAL_TRIGGER in table:
                    names.update(n for n in HOOK_NAMES if component_of(n) == component)
                names.update(n for n, plugins in table.items() if plugins)
            active = self._active = frozenset(names)
        return active

    def listens(self, name: str) -> bool:
        """Whether any plugin listens to hook `name`."""
        return name in self.active

    def listeners(self, name: str) -> list[Any]:
        table = self.tables.get(component_of(name))
        if not table:
            return []
        return [*table.get(name, ()), *table.get(GLOBAL_TRIGGER, ())]

    async def run(self, name: str, **kwargs: Any) -> dict[str, Any]:
        """Call hook `name`'s listeners; returns the merged changes (empty when none)."""
        if name not in self.active:
            return {}
        return await run_async(self._calls(name, kwargs), _settle)

    def run_sync(self, name: str, **kwargs: Any) -> dict[str, Any]:
        """`run` for sync callers; an async listener is awaited through the bridge."""
        if name not in self.active:
            return {}
        return run_sync(self._calls(name, kwargs), self._settle_sync)

    def _calls(self, name: str, kwargs: dict[str, Any]) -> Flow[dict[str, Any]]:
        """The listeners of `name` in order, written once for both callers: an awaitable
        a listener returns is yielded, and comes back as (value, error)."""
        changes: dict[str, Any] = {}
        for plugin in self.listeners(name):
            error: Exception | None = None
            call_kwargs = kwargs
            if self._caches and _name(plugin) in self._caches:
                call_kwargs = {**kwargs, "plugin_cache": self._caches[_name(plugin)]}
            try:
                result = _call(plugin, name, call_kwargs)
            except Exception as exc:
                result, error = None, exc
            if error is None and inspect.isawaitable(result):
                result, error = yield result
            if error is not None:
                if isinstance(error, HookAbort) and name in ABORTABLE_HOOKS:
                    raise error
                self._failed(plugin, name, error)
                continue
            self._merge(plugin, name, result, changes, kwargs)
        return changes

    def _settle_sync(self, awaitable: Awaitable[Any]) -> tuple[Any, Exception | None]:
        if self.bridge is None:
            return None, PluginError("an async plugin needs a bridge for sync callers")
        try:
            return self.bridge(awaitable), None
        except Exception as exc:
            return None, exc

    def _failed(self, plugin: Any, name: str, error: Exception) -> None:
        if self.log is not None:
            self.log.error("Plugin %r failed on hook %r", _name(plugin), name, exc_info=error)

    def _merge(
        self,
        plugin: Any,
        name: str,
        result: Any,
        changes: dict[str, Any],
        kwargs: dict[str, Any],
    ) -> None:
        if result is None:
            return
        if not isinstance(result, dict):
            if self.log is not None:
                self.log.error(
                    "Plugin %r returned %s on %r; a hook must return a dict of the keys it "
                    "changes, or None",
                    _name(plugin),
                    type(result).__name__,
                    name,
                )
            return
        if "plugin_cache" in result:
            result = dict(result)
            self._caches[_name(plugin)] = result.pop("plugin_cache")
        changes.update(result)
        kwargs.update(result)


async def _settle(awaitable: Awaitable[Any]) -> tuple[Any, Exception | None]:
    """An async listener's result, or the error it raised."""
    try:
        return await awaitable, None
    except Exception as exc:
        return None, exc


def _call(plugin: Any, name: str, kwargs: dict[str, Any]) -> Any:
    """A typed plugin's hook method if it overrides it, else 1.7's `trigger(name, ...)`."""
    method = getattr(type(plugin), name, None)
    if method is not None and method is not getattr(Hooks, name, None):
        return getattr(plugin, name)(**kwargs)
    return plugin.trigger(name, **kwargs)


def _name(plugin: Any) -> str:
    return str(getattr(plugin, "name", None) or type(plugin).__name__)


def all_plugins(tables: Iterable[Mapping[str, list[Any]]]) -> list[Any]:
    """Each distinct plugin once, in registration order."""
    seen: dict[int, Any] = {}
    for table in tables:
        for plugins in table.values():
            for plugin in plugins:
                seen.setdefault(id(plugin), plugin)
    return list(seen.values())


__all__ = [
    "ABORTABLE_HOOKS",
    "COMPONENTS",
    "GLOBAL_TRIGGER",
    "HOOK_NAMES",
    "Bridge",
    "Changes",
    "HookRunner",
    "Hooks",
    "PluginTable",
    "all_plugins",
    "component_of",
    "overridden_hooks",
]
