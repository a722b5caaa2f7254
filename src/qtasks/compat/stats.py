"""QTasks 1.7's stats (`qtasks.stats`): `AsyncStats(app)` / `SyncStats(app)`, whose
`inspect()` fires the `stats_inspect` trigger and returns an `InspectStats` describing the
app and its tasks.

Every `InspectStats` method returns a string: `label: value` lines (labels padded to 26
characters) closed by a line of 50 dashes, or with `json=True` a JSON text. The labels
are the ones scripts written for 1.7 parse, its spelling "Task nane" included.
"""

from __future__ import annotations

import dataclasses
import inspect
import json as jsonlib
from collections.abc import Iterable
from pprint import pformat
from typing import Any

from qtasks.compat.mixins import AsyncPluginMixin, SyncPluginMixin
from qtasks.core.models import TaskSpec

_NONE = "—"


class UtilsInspectStats:
    """The text and JSON renderings `InspectStats` uses."""

    label_width = 26

    def _block(self, info: dict[str, Any]) -> str:
        lines = [f"{label:<{self.label_width}}: {value}" for label, value in info.items()]
        return "\n".join(lines) + "\n" + "-" * 50

    def _parser_json(self, data: Any) -> str:
        def plain(item: Any) -> Any:
            if isinstance(item, TaskSpec):
                return _spec_dict(item)
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                return dataclasses.asdict(item)
            return item

        many = isinstance(data, (list, tuple))
        data = [plain(item) for item in data] if many else plain(data)
        return jsonlib.dumps(data, ensure_ascii=False, indent=2, default=str)

    def _app_info(self, app: Any) -> dict[str, Any]:
        # The component names 1.7 printed: a component given to the app's constructor
        # by its class, else what stands behind it (the backend, the app's kind).
        given_broker, given_worker = getattr(app, "_given", (None, None))
        backend = type(app.backend).__name__
        kind = "Async" if app.method == "async" else "Sync"
        storage = getattr(given_broker, "storage", None)
        settings = app.global_config
        running = getattr(app, "_server", None) is not None
        broker_name = type(given_broker).__name__ if given_broker is not None else backend
        worker_name = type(given_worker).__name__ if given_worker is not None else None
        info: dict[str, Any] = {
            "Name": app.name,
            "Method": app.method,
            "Version": app.version,
            "Config": str(app.config),
            "Tasks Count": len(app.tasks),
            "Routers Count": len(getattr(app, "routers", [])),
            "Plugins Count": _trigger_count(app),
            "Broker": broker_name,
            "Worker": worker_name or ("AsyncWorker" if kind == "Async" else "SyncThreadWorker"),
            "Starter": f"{kind}Starter" if running else _NONE,
            "Storage": type(storage).__name__ if storage is not None else backend,
            "GlobalConfig": type(settings).__name__ if settings is not None else _NONE,
            "Log": type(app.log).__name__,
        }
        if app.events is not None:
            info["Init Count"] = app.events.count()
        return info

    def _app_parser(self, app: Any, json: bool = False) -> str:
        info = self._app_info(app)
        return self._parser_json(info) if json else self._block(info)

    def _tasks_parser(self, tasks: Iterable[TaskSpec]) -> str:
        blocks = [self._block(_task_info(spec)) for spec in tasks]
        return "\n".join(blocks) or "No registered tasks."


class InspectStats(UtilsInspectStats):
    """What an app holds: `app()`, `task(name)`, `tasks(*names)`; `json=True` for JSON."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def app(self, json: bool = False) -> str:
        return self._app_parser(self._app, json=json)

    def task(self, task_name: str, json: bool = False) -> str:
        """One task; `KeyError` when no task has that name."""
        spec = self._app.tasks[task_name]
        return self._parser_json(spec) if json else self._tasks_parser([spec])

    def tasks(self, *tasks: str, json: bool = False) -> str:
        """The named tasks (unknown names are skipped), or every task when none is named."""
        table = self._app.tasks
        specs = list(table.values()) if not tasks else [table[n] for n in tasks if n in table]
        return self._parser_json(specs) if json else self._tasks_parser(specs)


class BaseStats:
    """Holds the app and the stats plugins (`plugins`: trigger name -> plugins)."""

    def __init__(self, app: Any, plugins: dict[str, list[Any]] | None = None) -> None:
        self.app = app
        self.plugins: dict[str, list[Any]] = plugins if plugins is not None else {}
        self.log = app.log.with_subname(type(self).__name__) if app is not None else None


class SyncStats(BaseStats, SyncPluginMixin):
    def inspect(self) -> InspectStats:
        self._plugin_trigger("stats_inspect", stats=self)
        self.app.hooks.run_sync("stats_inspect", stats=self)
        return InspectStats(self.app)


class AsyncStats(BaseStats, AsyncPluginMixin):
    async def inspect(self) -> InspectStats:
        await self._plugin_trigger("stats_inspect", stats=self)
        await self.app.hooks.run("stats_inspect", stats=self)
        return InspectStats(self.app)


def _trigger_count(app: Any) -> int:
    """Trigger names with plugins, over the app and its components (as 1.7 counted)."""
    tables = [app.plugins, *getattr(app, "_component_plugins", {}).values()]
    return sum(len(table) for table in tables)


def _spec_dict(spec: TaskSpec) -> dict[str, Any]:
    """A task's options under QTasks 1.7's keys, in its order (`TaskSpec` keeps both)."""
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}


def _task_info(spec: TaskSpec) -> dict[str, Any]:
    positional, keywords = _parameters(spec.func)
    info: dict[str, Any] = {
        "Task nane": spec.name,
        "Priority": spec.priority,
        "Description": spec.description or _NONE,
        "Tags": ", ".join(spec.tags) if spec.tags else _NONE,
        "Awaiting": spec.awaiting,
        "Generating": spec.generating,
        "Task Self": spec.echo,
        "Args": ", ".join(positional) or _NONE,
        "Kwargs": ", ".join(f"{k}={v}" for k, v in keywords.items()) or _NONE,
    }
    optional = {
        "Retry Count": spec.retry,
        "Retry on Exception": pformat(spec.retry_on_exc) if spec.retry_on_exc else None,
        "Decode": str(spec.decode) if spec.decode else None,
        "Generator": str(spec.generate_handler) if spec.generate_handler else None,
        "Executor": str(spec.executor) if spec.executor else None,
        "Middlewares Before": pformat(spec.middlewares_before) or None,
        "Middlewares After": pformat(spec.middlewares_after) or None,
    }
    if not spec.middlewares_before:
        optional["Middlewares Before"] = None
    if not spec.middlewares_after:
        optional["Middlewares After"] = None
    info.update({k: v for k, v in optional.items() if v is not None})
    if spec.extra:
        info["Extra"] = "\n" + "\n".join(f" * {k}: {v}" for k, v in spec.extra.items())
    return info


def _parameters(func: Any) -> tuple[list[str], dict[str, Any]]:
    """`name: type` of the parameters without a default, and `name: type` -> default."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return [], {}
    positional: list[str] = []
    keywords: dict[str, Any] = {}
    for param in params:
        annotation = param.annotation
        if annotation is inspect.Parameter.empty:
            shown = param.name
        elif isinstance(annotation, type):
            shown = f"{param.name}: {annotation.__name__}"
        else:
            shown = f"{param.name}: {annotation}"
        if param.default is inspect.Parameter.empty:
            positional.append(shown)
        else:
            keywords[shown] = param.default
    return positional, keywords


__all__ = ["AsyncStats", "BaseStats", "InspectStats", "SyncStats", "UtilsInspectStats"]
