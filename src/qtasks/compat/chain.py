"""QTasks 1.7's component chain on a qtasks app: `app.broker`, `app.broker.storage`,
`app.broker.storage.global_config`, `app.worker` and `app.starter`, there from
construction, each with the app's `name`, its one `config` and its events.

qtasks has one backend and one engine per app, so these are views of the app: each 1.7
method maps onto the app's own operation (`broker.add` enqueues, `broker.get` reads,
`worker.start`/`starter.start` run the app's server, ...). In an async app the methods
that do I/O return awaitables, as the original's Async components did. What a view does
not define it reads from what it stands for: the component given to the constructor
(`QueueTasks(broker=AsyncRedisBroker(...))`), then the backend for the broker and storage,
the running engine worker for `app.worker` (`app.worker.executed`), the running server
for `app.starter`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from qtasks.compat.components import (
    BaseBroker,
    BaseGlobalConfig,
    BaseStarter,
    BaseStorage,
    BaseWorker,
)
from qtasks.core.config import QueueConfig
from qtasks.core.models import TaskRecord
from qtasks.core.steps import Call, Flow
from qtasks.exc import CapabilityError, ConfigError


class _View:
    component = ""

    def __init__(self, app: Any, given: Any = None) -> None:
        self._app = app
        self._given = given

    # the one config, name, log and events of the app
    @property
    def name(self) -> str:
        return str(self._app.name)

    @property
    def config(self) -> QueueConfig:
        return self._app.config  # type: ignore[no-any-return]

    @config.setter
    def config(self, config: QueueConfig) -> None:
        self.update_config(config)

    @property
    def log(self) -> Any:
        return self._app.log.with_subname(type(self).__name__)

    @property
    def events(self) -> Any:
        return self._app.events

    @property
    def plugins(self) -> Any:
        return self._app._component_plugins[self.component]

    @plugins.setter
    def plugins(self, table: dict[str, list[Any]]) -> None:
        own = self._app._component_plugins[self.component]
        own.clear()
        own.update(table)

    def update_config(self, config: QueueConfig) -> None:
        """Copy `config`'s fields into the app's one config (every view reads that)."""
        if config is self._app.config:
            return
        for name, value in config.as_dict().items():
            setattr(self._app.config, name, value)

    def add_plugin(self, plugin: Any, trigger_names: list[str] | None = None) -> None:
        self._app.add_plugin(plugin, trigger_names or ["Globals"], component=self.component)

    def _drive(self, flow: Flow[Any]) -> Any:
        app = self._app
        return app._run_async(flow) if app.method == "async" else app._run_sync(flow)

    def _fallbacks(self) -> list[Any]:
        return [self._given]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        for target in self._fallbacks():
            if target is not None and hasattr(target, name):
                return getattr(target, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of app {self.name!r}>"


class GlobalConfigView(_View, BaseGlobalConfig):
    """`app.broker.storage.global_config`: the settings every process of the app sees,
    on backends that keep them (Redis); elsewhere its methods raise `CapabilityError`."""

    component = "global_config"

    @property
    def config_name(self) -> str:
        return f"{self.name}:GlobalConfig"

    def _settings(self) -> Any:
        settings = self._app.global_config
        if settings is None:
            raise CapabilityError(
                f"{type(self._app.backend).__name__} keeps no shared settings "
                "(the global config needs a backend with them, e.g. redis://)"
            )
        return settings

    def set(self, name: str, key: str, value: Any) -> Any:
        return self._settings().set(name, key, value)

    def get(self, key: str, name: str) -> Any:
        return self._settings().get(key, name)

    def get_all(self, key: str) -> Any:
        return self._settings().get_all(key)

    def get_match(self, match: str) -> Any:
        return self._settings().get_match(match)

    def start(self) -> Any:
        return self._settings().start()

    def stop(self) -> Any:
        return self._settings().stop()


class StorageView(_View, BaseStorage):
    """`app.broker.storage`: the app's task records."""

    component = "storage"

    def __init__(self, app: Any, given: Any = None) -> None:
        super().__init__(app, given)
        self.global_config = GlobalConfigView(app, getattr(given, "global_config", None))

    def _fallbacks(self) -> list[Any]:
        return [self._given, self._app.backend]

    def get(self, uuid: Any) -> Any:
        """The task (`Task`) or None."""
        return self._app.get(uuid)

    def update(self, uuid: Any = None, **fields: Any) -> Any:
        """Set fields of a stored task (record fields, others become extra fields):
        `update(uuid=..., status=...)`, or QTasks 1.7's `update(name="{app}:{uuid}",
        mapping={...})`."""
        if uuid is None and isinstance(fields.get("name"), str) and "mapping" in fields:
            uuid = fields.pop("name").rpartition(":")[2]
            fields.update(fields.pop("mapping") or {})
        if uuid is None:
            raise ConfigError("update() needs the task's uuid= (or 1.7's name=..., mapping=...)")
        return self._drive(_update_flow(str(uuid), fields))

    def remove_finished_task(self, task_broker: Any = None, model: Any = None) -> Any:
        """Store `model`, a finished task's record."""
        if not isinstance(model, TaskRecord):
            raise ConfigError(f"remove_finished_task() takes model=TaskRecord, got {model!r}")
        return self._drive(_put_flow(model))

    def flush_all(self) -> Any:
        return self._app.flush_all()

    def start(self) -> None:
        """Nothing to start: the backend connects on first use."""

    def stop(self) -> Any:
        backend = self._app.backend
        return backend.close() if self._app.method == "async" else backend.close_sync()


class BrokerView(StorageView, BaseBroker):
    """`app.broker`: queues tasks; `.storage` is the record side."""

    component = "broker"
    #: QTasks 1.7's pause between polls of an empty queue (qtasks' fetch waits instead).
    default_sleep = 0.01
    #: The class of `.storage` (the Redis views use the Redis storage's).
    storage_view: type[StorageView] = StorageView

    def __init__(self, app: Any, given: Any = None) -> None:
        _View.__init__(self, app, given)
        self.storage = self.storage_view(app, getattr(given, "storage", None))

    def add(
        self,
        task_name: str,
        priority: int = 0,
        extra: dict[str, Any] | None = None,
        args: Any = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Queue a task; returns its `Task` (status `new`). `extra` fields are stored on
        the record."""
        return self._drive(
            _add_flow(self._app, task_name, priority, extra, tuple(args or ()), kwargs or {})
        )


class WorkerView(_View, BaseWorker):
    """`app.worker`: the app's tasks and middlewares; while a server runs, attributes of
    its engine worker (`concurrency`, `executed`) read through."""

    component = "worker"

    @property
    def broker(self) -> Any:
        return self._app.broker

    def _fallbacks(self) -> list[Any]:
        return [self._running(), self._given]

    def _running(self) -> Any:
        server = self._app._server
        workers = getattr(server, "workers", None)
        return workers[0] if workers else None

    @property
    def _tasks(self) -> Any:
        return self._app.tasks

    @property
    def task_middlewares_before(self) -> list[Any]:
        return self._app.middlewares_before  # type: ignore[no-any-return]

    @property
    def task_middlewares_after(self) -> list[Any]:
        return self._app.middlewares_after  # type: ignore[no-any-return]

    @property
    def task_executor(self) -> Any:
        from qtasks.engine.executor import TaskExecutor

        return TaskExecutor

    @property
    def num_workers(self) -> int:
        """Consumer loops of the running (or last) server; 1, the default, before."""
        workers = getattr(self._app._server, "workers", None)
        return len(workers) if workers else 1

    def add(
        self,
        name: str,
        uuid: Any = None,
        priority: int = 0,
        created_at: float | None = None,
        args: Any = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Queue a task for the app's workers (a new uuid is given to it)."""
        return self._drive(
            _add_flow(self._app, name, priority, None, tuple(args or ()), kwargs or {})
        )

    def start(self, num_workers: int | None = None) -> Any:
        """Run the app's server until stopped (blocking in a sync app)."""
        return self._app.run_forever(num_workers)

    def stop(self) -> Any:
        return self._app.stop()


class StarterView(_View, BaseStarter):
    """`app.starter`: starts and stops the app's server; while it runs, the server's own
    attributes (`workers`) read through."""

    component = "starter"

    def _fallbacks(self) -> list[Any]:
        return [self._app._server, self._given]

    @property
    def broker(self) -> Any:
        return self._app.broker

    @property
    def worker(self) -> Any:
        return self._app.worker

    def start(self, num_workers: int | None = None, **options: Any) -> Any:
        return self._app.run_forever(num_workers, **options)

    def stop(self) -> Any:
        return self._app.stop()

    def update_configs(self, config: QueueConfig) -> None:
        self.update_config(config)


def component_chain(app: Any, broker: Any, worker: Any) -> tuple[Any, Any, Any]:
    """The views of `app` (broker, worker, starter), honouring 1.7 components given to
    its constructor and refusing the ones qtasks cannot run."""
    from qtasks.compat.workers import AsyncWorker, SyncThreadWorker

    ours = isinstance(worker, (AsyncWorker, SyncThreadWorker))
    if worker is not None and (not ours or _overrides(worker, ("add", "start", "stop"))):
        raise ConfigError(
            f"QueueTasks(worker=...) takes AsyncWorker/SyncThreadWorker settings, got "
            f"{worker!r}: qtasks runs tasks with its own engine; customise it with "
            "middlewares, plugins or @app.task(executor=...)"
        )
    _check_redis_components(broker)
    return _broker_view(app)(app, broker), WorkerView(app, worker), StarterView(app)


#: QTasks 1.7's methods of brokers and storages; a subclass of the 1.7 Redis components
#: that overrides one expects the app to call it, which qtasks' engine never does.
_COMPONENT_METHODS = (
    "add",
    "get",
    "get_all",
    "update",
    "start",
    "stop",
    "listen",
    "add_process",
    "remove_finished_task",
    "flush_all",
)


def _check_redis_components(broker: Any) -> None:
    if broker is None:
        return
    from qtasks.compat import redis_components as redis

    for part in (broker, getattr(broker, "storage", None)):
        if part is None:
            continue
        base = next(
            (
                c
                for c in type(part).__mro__
                if c.__module__ == redis.__name__ and not c.__name__.startswith("_")
            ),
            None,
        )
        if base is None or type(part) is base:
            continue
        changed = [
            n
            for n in _COMPONENT_METHODS
            if getattr(type(part), n, None) is not getattr(base, n, None)
        ]
        if changed:
            raise ConfigError(
                f"{type(part).__name__} overrides {', '.join(changed)} of {base.__name__}, "
                "which qtasks never calls: its engine talks to the backend through "
                "qtasks.core.ports. Keep behaviour of your own in plugins or middlewares, "
                "or implement a Backend (see docs/backends/README.md)"
            )


def _broker_view(app: Any) -> type[BrokerView]:
    """On Redis the views are also QTasks 1.7's Redis component classes, so code that
    checks `isinstance(app.broker, SyncRedisBroker)` keeps its answer."""
    from qtasks.backends.redis import RedisBackend

    if not isinstance(app.backend, RedisBackend):
        return BrokerView
    if not _REDIS_VIEWS:
        _REDIS_VIEWS.update(_redis_views())
    return _REDIS_VIEWS["async" if app.method == "async" else "sync"]


_REDIS_VIEWS: dict[str, type[BrokerView]] = {}


def _redis_views() -> dict[str, type[BrokerView]]:
    from qtasks.compat import redis_components as redis

    def storage(component: type[Any]) -> type[StorageView]:
        def __init__(self: Any, app: Any, given: Any = None) -> None:
            StorageView.__init__(self, app, given)
            self.backend, self.url = app.backend, app.backend.url
            self.queue_process = getattr(given, "queue_process", f"{app.name}:task_process")

        return type(component.__name__ + "View", (StorageView, component), {"__init__": __init__})

    def broker(component: type[Any], storage_view: type[StorageView]) -> type[BrokerView]:
        def __init__(self: Any, app: Any, given: Any = None) -> None:
            BrokerView.__init__(self, app, given)
            self.backend, self.url = app.backend, app.backend.url
            self.queue_name = getattr(given, "queue_name", f"{app.name}:task_queue")

        attrs = {"__init__": __init__, "storage_view": storage_view}
        return type(component.__name__ + "View", (BrokerView, component), attrs)

    return {
        "async": broker(redis.AsyncRedisBroker, storage(redis.AsyncRedisStorage)),
        "sync": broker(redis.SyncRedisBroker, storage(redis.SyncRedisStorage)),
    }


def check_starter(starter: Any) -> None:
    """`run_forever(starter=...)`: 1.7's starters are settings; one of one's own is refused."""
    from qtasks.compat.components import AsyncStarter, SyncStarter

    if starter is None or isinstance(starter, StarterView):
        return
    if not isinstance(starter, (AsyncStarter, SyncStarter)) or _overrides(
        starter, ("start", "stop")
    ):
        raise ConfigError(
            f"run_forever(starter=...) takes AsyncStarter/SyncStarter, got {starter!r}: the "
            "app starts its own server (num_workers=, queues=, concurrency=)"
        )


def _overrides(obj: Any, names: tuple[str, ...]) -> bool:
    from qtasks.compat.components import AsyncStarter, SyncStarter
    from qtasks.compat.workers import AsyncWorker, SyncThreadWorker

    ours = (AsyncWorker, SyncThreadWorker, AsyncStarter, SyncStarter)
    base = next(c for c in type(obj).__mro__ if c in ours)
    return any(getattr(type(obj), n, None) is not getattr(base, n, None) for n in names)


def _add_flow(
    app: Any,
    task_name: str,
    priority: int | None,
    extra: dict[str, Any] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Flow[Any]:
    record = yield from app._record_flow(task_name, args, kwargs, priority, None, None)
    if extra:
        record.extra.update(extra)
    yield Call("enqueue", ([record],))
    yield from app._after_add_flow(record)
    return app._to_task(record)


def _update_flow(uuid: str, fields: dict[str, Any]) -> Flow[Any]:
    record = yield Call("get", (uuid,))
    if record is None:
        return None
    known = {f.name for f in dataclasses.fields(TaskRecord)} - {"uuid", "extra"}
    for key, value in fields.items():
        if key in known:
            setattr(record, key, value)
        else:
            record.extra[key] = value
    yield from _put_flow(record)
    return record


def _put_flow(record: TaskRecord) -> Flow[None]:
    yield Call("put", ([record],))


__all__ = [
    "BrokerView",
    "GlobalConfigView",
    "StarterView",
    "StorageView",
    "WorkerView",
    "check_starter",
    "component_chain",
]
