"""`BaseQueueTasks`: everything both apps share that does no I/O, plus the client
operations written once over the backend's sync and async methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, overload

from qtasks import _state
from qtasks._compat_hook import compat_attribute
from qtasks.app.inspection import InspectionOperations
from qtasks.app.schedules import ScheduleDeclarations
from qtasks.app.settings import AsyncGlobalConfig, GlobalConfig
from qtasks.backends import Backend, TaskRecord, create_backend, resolve_url
from qtasks.backends.bridge import portal
from qtasks.configs import QueueConfig
from qtasks.contexts import AsyncContext, BaseContext, SyncContext
from qtasks.core.hooks import HookRunner, Hooks, PluginTable, component_of, overridden_hooks
from qtasks.core.models import TaskSpec
from qtasks.events import BaseEvents
from qtasks.exc import ArgumentTypeError, ConfigError
from qtasks.logs import Logger
from qtasks.plugins.builtin import INJECTORS
from qtasks.plugins.runner import add_plugin
from qtasks.registries.build import decorate
from qtasks.registries.registry import TaskTable
from qtasks.registries.task import AsyncTask, BaseTask, SyncTask
from qtasks.version import __version__

if TYPE_CHECKING:
    from qtasks.registries.build import (
        AsyncAppLike,
        AsyncTaskDecorator,
        SyncAppLike,
        SyncTaskDecorator,
    )
    from qtasks.registries.task import P, R
    from qtasks.routers import BaseRouter

COMPONENTS = ("worker", "broker", "storage", "global_config", "starter")


class BaseQueueTasks(InspectionOperations, ScheduleDeclarations):
    _method: ClassVar[str]
    _task_class: ClassVar[type[BaseTask[Any]]]
    _events_class: ClassVar[type[BaseEvents]]

    def __init__(
        self,
        name: str = "QueueTasks",
        broker_url: str | None = None,
        broker: Any = None,
        worker: Any = None,
        log: Logger | None = None,
        config: QueueConfig | None = None,
        events: BaseEvents | None = None,
        *,
        storage: Any = None,
        storage_url: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"An app name must be a non-empty string, got {name!r}")
        self.name = name
        self.version = __version__
        if config is None:  # components written for QTasks 1.7 may carry the config
            config = next(
                (
                    c.config
                    for c in (worker, broker, storage)
                    if isinstance(getattr(c, "config", None), QueueConfig)
                ),
                None,
            )
        self.config = config if config is not None else QueueConfig()
        self.log = (
            log.with_subname("QueueTasks")
            if log is not None
            else Logger(
                name, "QueueTasks", self.config.logs_default_level_server, self.config.logs_format
            )
        )
        self.config.subscribe(self._update_configs)
        self.events: BaseEvents = events if events is not None else self._events_class(self.log)
        if self.events.log is None:
            self.events.log = self.log
        # Own tasks, then the shared ones (`@shared_task`, imported before or after).
        self.tasks = TaskTable()
        self._handles: dict[str, BaseTask[Any]] = {}
        self._schedules: dict[str, Any] = {}  # id -> Schedule (`app.schedule`)
        self.routers: list[BaseRouter] = []
        self.plugins: PluginTable = PluginTable()
        self.middlewares_before: list[Any] = []
        self.middlewares_after: list[Any] = []
        self._component_plugins: dict[str, PluginTable] = {c: PluginTable() for c in COMPONENTS}
        self.hooks = HookRunner(
            {"app": self.plugins, **self._component_plugins}, self.log, bridge=portal().wait
        )
        #: The running server (`run_forever`, `start`, `serve`), None while stopped.
        self._server: Any = None
        self.backend: Backend = self._make_backend(broker or storage, broker_url, storage_url)
        # QTasks 1.7's component chain (app.broker, .storage, .global_config, app.worker,
        # app.starter) comes from the compat package, built when first used; a 1.7
        # worker component given here is checked at once.
        self._given = (None if isinstance(broker, Backend) else broker, worker)
        self._chain: tuple[Any, Any, Any] | None = None
        if worker is not None or self._given[0] is not None:
            self._components()
        self._set_state()

    def _make_backend(self, given: Any, broker_url: str | None, storage_url: str | None) -> Backend:
        if given is not None:
            backend = given if isinstance(given, Backend) else getattr(given, "backend", None)
            if not isinstance(backend, Backend):
                raise ConfigError(
                    f"QueueTasks(broker=/storage=...) takes a qtasks backend or one of QTasks "
                    f"1.7's Redis components, got {given!r}: a broker or storage class of "
                    "one's own cannot drive the engine. Pass broker_url=... (memory://, "
                    "sqlite:///, redis://), or implement qtasks.core.ports.Backend and "
                    "register its URL scheme (see docs/backends/README.md)"
                )
            backend.config = self.config  # one config per app, read by every component
            return backend
        broker_url = broker_url or self.config.broker_url
        storage_url = storage_url or self.config.storage_url
        if broker_url is None:  # a storage URL alone names the one backend (1.7's meaning)
            broker_url, storage_url = storage_url, None
        return create_backend(
            resolve_url(broker_url, self.config),
            namespace=self.name,
            config=self.config,
            log=self.log,
            storage_url=storage_url,
        )

    def _run_options(self, num_workers: Any, starter: Any) -> int | None:
        """QTasks 1.7 took `run_forever(starter=None, num_workers=4, reset_config=True)`:
        a starter, given first or by name, must be one of 1.7's (they are settings)."""
        if num_workers is not None and not isinstance(num_workers, int):
            starter, num_workers = num_workers, None
        compat_attribute("qtasks.app.base", "check_starter")(starter)
        return int(num_workers) if num_workers is not None else None

    # --- global state (the seed's contract) ------------------------------------------------
    def _set_state(self) -> None:
        """Make this app the process default for app-less calls."""
        _state.set_main(self, self.log)

    def _update_configs(self, config: QueueConfig, key: str, value: Any) -> None:
        if key == "logs_default_level_server":
            self.log.update_logger(default_level=value)
        elif key == "logs_format":  # a format or "json"
            self.log.update_logger(format=value)

    def _update_logs(self, **kwargs: Any) -> None:
        """QTasks 1.7's way to change the app's logger: `name`, `subname`,
        `default_level`, `format`, as `Logger.update_logger` takes them."""
        self.log.update_logger(**kwargs)

    def _registry_tasks(self) -> None:
        """QTasks 1.7 copied the shared tasks into the app here. An app reads the shared
        tasks when it looks a task up, whenever they were defined, so there is nothing
        left to copy; kept for code that calls it."""

    # --- compatibility names ------------------------------------------------------------------
    @property
    def broker(self) -> Any:
        """QTasks 1.7's broker component: a view of this app (`.add`, `.get`, `.storage`,
        `.storage.global_config`); anything else reads through to the backend."""
        return self._components()[0]

    @property
    def worker(self) -> Any:
        """QTasks 1.7's worker component: the app's tasks and middlewares; while a server
        runs, attributes of its first engine worker read through (`concurrency`,
        `executed`)."""
        return self._components()[1]

    @property
    def starter(self) -> Any:
        """QTasks 1.7's starter component: `start()`/`stop()` the app's server; while it
        runs, the server's attributes read through (`workers`)."""
        return self._components()[2]

    def _components(self) -> tuple[Any, Any, Any]:
        if self._chain is None:
            build = compat_attribute("qtasks.app.base", "component_chain")
            self._chain = build(self, *self._given)
        return self._chain

    @property
    def global_config(self) -> GlobalConfig | AsyncGlobalConfig | None:
        """Settings shared by every process of the app (`set/get/get_all/get_match`), on
        backends that keep them (the `shared_settings` capability: Redis); None elsewhere."""
        if not self.backend.capabilities.shared_settings:
            return None
        cls = AsyncGlobalConfig if self._method == "async" else GlobalConfig
        return cls(
            self.name, config=self.config, log=self.log, backend=self.backend, hooks=self.hooks
        )

    # --- registration -------------------------------------------------------------------------
    # Typed per app: a sync app's tasks are `SyncTask`s, an async app's `AsyncTask`s.
    @overload
    def task(self: SyncAppLike, name: Callable[P, R], /) -> SyncTask[P, R]: ...
    @overload
    def task(self: SyncAppLike, name: str | None = None, **options: Any) -> SyncTaskDecorator: ...
    @overload
    def task(self: AsyncAppLike, name: Callable[P, R], /) -> AsyncTask[P, R]: ...
    @overload
    def task(self: AsyncAppLike, name: str | None = None, **options: Any) -> AsyncTaskDecorator: ...
    def task(self, name: Any = None, **options: Any) -> Any:
        """Register a task: `@app.task`, `@app.task()`, `@app.task("name", retry=3, ...)`."""
        return decorate(name, options, self.config.task_default_priority, self._register)

    def _register(self, schema: TaskSpec) -> BaseTask[Any]:
        if schema.name in self.tasks.own:  # a shared task of that name is shadowed
            raise ConfigError(f"Task with name {schema.name} is already registered!")
        self._check_task_schedule(schema)
        handle = self._task_class(schema, self)
        handle.ctx = self._context_for(schema)
        self.tasks[schema.name] = schema
        self._handles[schema.name] = handle
        return handle

    def include_router(self, router: BaseRouter) -> None:
        """Attach a router: its tasks become this app's and use this app from now on."""
        clash = set(router.tasks) & set(self.tasks.own)
        if clash:
            raise ConfigError(
                f"Router tasks already registered in app {self.name!r}: {sorted(clash)}"
            )
        self.routers.append(router)
        for task_name, schema in router.tasks.items():
            self.tasks[task_name] = schema
            handle = router.handles[task_name]
            handle._bind(self)
            handle.ctx = self._context_for(schema)
            self._handles[task_name] = handle
        for trigger_name, plugins in router.plugins.items():
            for plugin in plugins:
                add_plugin(self.plugins, plugin, [trigger_name])

    def add_plugin(
        self,
        plugin: Hooks,
        trigger_names: list[str] | None = None,
        component: str | None = None,
    ) -> None:
        """Register a plugin. A plugin that overrides typed hook methods (`Hooks`) and is
        given no trigger names listens to exactly those hooks. Otherwise, as in QTasks
        1.7, its `trigger()` is called for `trigger_names` (all hooks when None) of the
        app, or of a component (`worker`, `broker`, `storage`, `global_config`, `starter`)."""
        if component is not None and component not in self._component_plugins:
            raise KeyError(f"Unable to get component {component!r}; known: {', '.join(COMPONENTS)}")
        typed = overridden_hooks(plugin) if trigger_names is None else []
        if typed:
            for name in typed:
                table = self.hooks.tables[component_of(name)]
                add_plugin(table, plugin, [name])
            return
        table = self.plugins if component is None else self._component_plugins[component]
        add_plugin(table, plugin, trigger_names)

    def add_middleware(self, middleware: Any, position: str = "before") -> None:
        """Run `middleware` (a `TaskMiddleware` subclass) around every task of this app,
        after the task's own middlewares of the same position."""
        if not (isinstance(middleware, type) and callable(middleware)):
            raise ArgumentTypeError(
                f"add_middleware() takes a middleware class, got {middleware!r}"
            )
        if position not in ("before", "after"):
            raise ConfigError(f"position must be 'before' or 'after', got {position!r}")
        target = self.middlewares_before if position == "before" else self.middlewares_after
        target.append(middleware)

    # --- what the engine reads (the Runtime protocol) ---------------------------------------
    @property
    def method(self) -> str:
        """ "sync" or "async": which facade this app offers."""
        return self._method

    @property
    def task_count(self) -> int:
        return len(self.tasks)

    @property
    def injectors(self) -> Sequence[Any]:
        """The built-in argument injectors (Pydantic models, Depends, State)."""
        return INJECTORS

    def find_task(self, name: str) -> TaskSpec | None:
        return self.tasks.get(name)  # own first, then shared

    _find_task = find_task

    def echo_handle(self, schema: TaskSpec, record: TaskRecord) -> BaseTask[Any]:
        """The `self` of an echo task: async methods for async functions, plain ones for
        sync functions (which run in a thread and cannot await), whatever the app."""
        handle: BaseTask[Any] = (AsyncTask if schema.awaiting else SyncTask)(schema, self)
        handle.ctx = self._context_for(schema, record.uuid)
        return handle

    def _context_for(self, schema: TaskSpec, uuid: str | None = None) -> BaseContext:
        """A task's `ctx`: async methods when the function is async, else plain ones."""
        context_class = AsyncContext if schema.awaiting else SyncContext
        return context_class(task_name=schema.name, task_uuid=uuid, app=self)

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.QueueTasks name={self.name!r} backend={self.backend!r}>"


def __getattr__(name: str) -> Any:
    # the pieces of QTasks 1.7's component chain, read from the compat package by name
    return compat_attribute(__name__, name)


__all__ = ["BaseQueueTasks"]
