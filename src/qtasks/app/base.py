"""`BaseQueueTasks`: everything both apps share that does no I/O, plus the client
operations written once over the backend's sync and async methods.
"""

from __future__ import annotations

import os
import time
import uuid as uuid_mod
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from qtasks import _state
from qtasks.app.task import Task
from qtasks.backends import Backend, TaskRecord, create_backend, resolve_url
from qtasks.backends.bridge import portal
from qtasks.configs import QueueConfig
from qtasks.contexts import AsyncContext, BaseContext, SyncContext
from qtasks.core.hooks import HookRunner, PluginTable
from qtasks.core.models import DEFAULT_QUEUE
from qtasks.core.models import TaskSpec as TaskExecSchema
from qtasks.core.steps import Call, Flow, Hook, run_async, run_sync
from qtasks.events import BaseEvents
from qtasks.exc import ConfigError
from qtasks.logs import Logger
from qtasks.plugins.base import BasePlugin
from qtasks.plugins.runner import add_plugin
from qtasks.registries.build import check_task_name, decorate
from qtasks.registries.registry import TaskRegistry
from qtasks.registries.task import AsyncTask, BaseTask, BaseTaskCls, SyncTask
from qtasks.version import __version__

if TYPE_CHECKING:
    from qtasks.engine.worker import Worker
    from qtasks.routers import BaseRouter

COMPONENTS = ("worker", "broker", "storage", "global_config", "starter")

#: Hooks around an enqueue; when none has a listener, `add_task` skips them all.
_ENQUEUE_HOOKS = frozenset(
    {
        "qtasks_add_task_before_broker",
        "broker_add_before",
        "storage_add",
        "broker_add_after",
        "qtasks_add_task_after_broker",
    }
)


class BaseQueueTasks:
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
        self.tasks: dict[str, TaskExecSchema] = {}
        self._handles: dict[str, BaseTask[Any]] = {}
        self.routers: list[BaseRouter] = []
        self.plugins: PluginTable = PluginTable()
        self.middlewares_before: list[Any] = []
        self.middlewares_after: list[Any] = []
        self._component_plugins: dict[str, PluginTable] = {c: PluginTable() for c in COMPONENTS}
        self.hooks = HookRunner(
            {"app": self.plugins, **self._component_plugins}, self.log, bridge=portal().wait
        )
        self.starter: Any = None
        self.worker: Worker | None = None
        self.backend: Backend = self._make_backend(broker or storage, broker_url or storage_url)
        self._set_state()

    def _make_backend(self, given: Any, url: str | None) -> Backend:
        if given is not None:
            backend = given if isinstance(given, Backend) else getattr(given, "backend", None)
            if not isinstance(backend, Backend):
                raise ConfigError(
                    f"broker/storage must be a qtasks Backend or a component with .backend, "
                    f"got {given!r}"
                )
            backend.config = self.config  # one config per app, read by every component
            return backend
        return create_backend(
            resolve_url(url, self.config), namespace=self.name, config=self.config, log=self.log
        )

    # --- global state (the seed's contract) ------------------------------------------------
    def _set_state(self) -> None:
        """Make this app the process default for app-less calls."""
        _state.set_main(self, self.log)

    def _update_configs(self, config: QueueConfig, key: str, value: Any) -> None:
        if key == "logs_default_level_server":
            self.log.update_logger(default_level=value)

    # --- compatibility names ------------------------------------------------------------------
    @property
    def broker(self) -> Backend:
        return self.backend

    @property
    def global_config(self) -> Any:
        """Settings shared by every process of the app (`set/get/get_all/get_match`), on
        backends that keep them (Redis); None elsewhere."""
        if not self.backend.capabilities.shared_settings:
            return None
        from qtasks.backends import redis_names

        cls = (
            redis_names.AsyncRedisGlobalConfig
            if self._method == "async"
            else redis_names.SyncRedisGlobalConfig
        )
        return cls(self.name, config=self.config, log=self.log, backend=self.backend)  # type: ignore[arg-type]

    # --- registration -------------------------------------------------------------------------
    def task(self, name: Any = None, **options: Any) -> Any:
        """Register a task: `@app.task`, `@app.task()`, `@app.task("name", retry=3, ...)`."""
        return decorate(name, options, self.config.task_default_priority, self._register)

    def _register(self, schema: TaskExecSchema) -> BaseTask[Any]:
        if schema.name in self.tasks:
            raise ValueError(f"Task with name {schema.name} is already registered!")
        handle = self._task_class(schema, self)
        handle.ctx = self._context_for(schema)
        self.tasks[schema.name] = schema
        self._handles[schema.name] = handle
        return handle

    def include_router(self, router: BaseRouter) -> None:
        """Attach a router: its tasks become this app's and use this app from now on."""
        clash = set(router.tasks) & set(self.tasks)
        if clash:
            raise ValueError(
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
        plugin: BasePlugin,
        trigger_names: list[str] | None = None,
        component: str | None = None,
    ) -> None:
        """Register a plugin for the app's triggers, or a component's (`worker`, `broker`,
        `storage`, `global_config`, `starter`)."""
        if component is None:
            add_plugin(self.plugins, plugin, trigger_names)
            return
        if component not in self._component_plugins:
            raise KeyError(f"Unable to get component {component!r}; known: {', '.join(COMPONENTS)}")
        add_plugin(self._component_plugins[component], plugin, trigger_names)

    def add_middleware(self, middleware: Any, position: str = "before") -> None:
        """Run `middleware` (a `TaskMiddleware` subclass) around every task of this app,
        after the task's own middlewares of the same position."""
        if not (isinstance(middleware, type) and callable(middleware)):
            raise TypeError(f"add_middleware() takes a middleware class, got {middleware!r}")
        if position not in ("before", "after"):
            raise ValueError(f"position must be 'before' or 'after', got {position!r}")
        target = self.middlewares_before if position == "before" else self.middlewares_after
        target.append(middleware)

    def _find_task(self, name: str) -> TaskExecSchema | None:
        return self.tasks.get(name) or TaskRegistry.get_task(name)

    def _echo_handle(self, schema: TaskExecSchema, record: TaskRecord) -> BaseTask[Any]:
        """The `self` of an echo task: async methods for async functions, plain ones for
        sync functions (which run in a thread and cannot await), whatever the app."""
        handle: BaseTask[Any] = (AsyncTask if schema.awaiting else SyncTask)(schema, self)
        handle.ctx = self._context_for(schema, record.uuid)
        return handle

    def _context_for(self, schema: TaskExecSchema, uuid: str | None = None) -> BaseContext:
        """A task's `ctx`: async methods when the function is async, else plain ones."""
        context_class = AsyncContext if schema.awaiting else SyncContext
        return context_class(task_name=schema.name, task_uuid=uuid, app=self)

    # --- client operations: pure parts ---------------------------------------------------------
    def _new_record(
        self,
        task_name: str,
        args: tuple[Any, ...] | list[Any],
        kwargs: dict[str, Any],
        priority: int | None,
        *,
        eta: float | None = None,
        queue: str | None = None,
        uuid: str | None = None,
    ) -> TaskRecord:
        check_task_name(task_name)
        if priority is None or queue is None:
            schema = self._find_task(task_name)
            if priority is None:
                priority = (
                    schema.priority if schema is not None else self.config.task_default_priority
                )
            if queue is None:
                queue = (
                    schema.extra.get("queue", DEFAULT_QUEUE)
                    if schema is not None
                    else DEFAULT_QUEUE
                )
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TypeError(f"priority must be an int, got {priority!r}")
        now = time.time()
        return TaskRecord(
            uuid or str(uuid_mod.uuid4()),
            task_name,
            priority,
            list(args),
            dict(kwargs),
            "new",
            now,
            now,
            eta=eta,
            queue=queue,
        )

    @staticmethod
    def _to_task(record: TaskRecord, uuid: UUID | None = None) -> Task:
        """The public view of a record; `uuid` is its uuid as an object when the caller has
        one (parsing the string again is a measurable part of an enqueue)."""
        extra = record.extra
        retry = child = parent = None
        if extra:  # most records carry none: skip the copy
            extra = dict(extra)
            retry = extra.pop("retry", None)
            child = extra.pop("retry_child_uuid", None)
            parent = extra.pop("retry_parent_uuid", None)
        else:
            extra = {}
        created = datetime.fromtimestamp(record.created_at)
        updated = (
            created
            if record.updated_at == record.created_at
            else datetime.fromtimestamp(record.updated_at)
        )
        return Task(
            record.status,
            uuid or UUID(record.uuid),
            record.priority,
            record.task_name,
            record.args,
            record.kwargs,
            created,
            updated,
            record.returning,
            record.traceback,
            int(retry) if retry is not None else None,
            child,
            parent,
            extra,
        )

    @staticmethod
    def _uuid_str(uuid: UUID | str) -> str:
        if isinstance(uuid, UUID):
            return str(uuid)
        try:
            return str(UUID(str(uuid)))
        except ValueError:
            raise ValueError(f"Not a task uuid: {uuid!r}") from None

    @staticmethod
    def _next_in_chain(record: TaskRecord | None) -> str | None:
        """The retry attempt to follow while waiting, if `record` handed over to one."""
        if record is not None and record.status == "retry":
            child = record.extra.get("retry_child_uuid")
            return str(child) if child else None
        return None

    # --- client operations: one flow each, driven sync or async (see flows.py) -------------------
    def _add_flow(
        self,
        task_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        priority: int | None,
        timeout: float | None,
        eta: float | None = None,
        queue: str | None = None,
    ) -> Flow:
        uuid = uuid_mod.uuid4()
        text = str(uuid)
        record = yield from self._record_flow(
            task_name, args, kwargs, priority, eta, queue, uuid=text
        )
        yield Call("enqueue", ([record],))
        yield from self._after_add_flow(record)
        if timeout is None:
            return self._to_task(record, uuid if record.uuid is text else None)
        return (yield from self._wait_flow(record.uuid, timeout))

    def _add_many_flow(self, calls: Iterable[Any]) -> Flow:
        """Many tasks in one backend round trip (`app.add_tasks`)."""
        calls = list(calls)
        uuids = _new_uuids(len(calls))
        texts = [str(u) for u in uuids]
        records = []
        for call, text in zip(calls, texts, strict=True):
            task_name, args, kwargs, priority = _normalise_call(call)
            record = yield from self._record_flow(
                task_name, args, kwargs, priority, None, None, uuid=text
            )
            records.append(record)
        if records:
            yield Call("enqueue", (records,))
        for record in records:
            yield from self._after_add_flow(record)
        # A plugin may have swapped a record: only an unchanged uuid text is known parsed.
        return [
            self._to_task(r, u if r.uuid is t else None)
            for r, u, t in zip(records, uuids, texts, strict=True)
        ]

    def _add_hooked(self) -> bool:
        """Whether any plugin listens to the enqueue steps."""
        return not self.hooks.active.isdisjoint(_ENQUEUE_HOOKS)

    def _record_flow(
        self,
        task_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        priority: int | None,
        eta: float | None,
        queue: str | None,
        uuid: str | None = None,
    ) -> Flow:
        """The record to enqueue, after the plugins that may change it."""
        if not self._add_hooked():  # nobody listens: no plugin steps (every producer's path)
            return self._new_record(
                task_name, args, kwargs, priority, eta=eta, queue=queue, uuid=uuid
            )
        changes = yield from self._fire(
            "qtasks_add_task_before_broker",
            qtasks=self,
            broker=self.backend,
            task_name=task_name,
            priority=priority,
            args=args,
            kw=kwargs,
        )
        task_name, priority, args, kwargs, extra = _apply_add_changes(
            changes, task_name, priority, args, kwargs
        )
        record = self._new_record(
            task_name, args, kwargs, priority, eta=eta, queue=queue, uuid=uuid
        )
        record.extra.update(extra)
        changes = yield from self._fire(
            "broker_add_before",
            broker=self.backend,
            storage=self.backend,
            model=record,
        )
        record = changes.get("model") or record
        yield from self._fire(
            "storage_add",
            storage=self.backend,
            uuid=record.uuid,
            task_status=record,
        )
        return record

    def _after_add_flow(self, record: TaskRecord) -> Flow:
        if not self._add_hooked():
            return
        yield from self._fire(
            "broker_add_after",
            broker=self.backend,
            storage=self.backend,
            model=record,
        )
        yield from self._fire(
            "qtasks_add_task_after_broker",
            qtasks=self,
            broker=self.backend,
            task_name=record.task_name,
            priority=record.priority,
            args=tuple(record.args),
            kwargs=record.kwargs,
        )

    def _get_flow(self, uuid: UUID | str) -> Flow:
        record = yield Call("get", (self._uuid_str(uuid),))
        changes = yield from self._fire("storage_get", storage=self.backend, result=record)
        record = changes.get("result", record)
        task = self._to_task(record) if record is not None else None
        changes = yield from self._fire("broker_get", broker=self.backend, task=task)
        task = changes.get("task", task)
        changes = yield from self._fire("qtasks_get", qtasks=self, broker=self.backend, task=task)
        return changes.get("task", task)

    def _wait_flow(self, uuid: UUID | str, timeout: float) -> Flow:
        """Wait for the final state, following retries to the last attempt."""
        deadline = time.monotonic() + timeout
        current: str | None = self._uuid_str(uuid)
        while current is not None:
            remaining = max(0.0, deadline - time.monotonic())
            record = yield Call("wait_final", (current, remaining))
            nxt = self._next_in_chain(record)
            if nxt is None:
                return self._to_task(record) if record is not None and record.is_final else None
            current = nxt
        return None

    def _cancel_flow(self, uuid: UUID | str, reason: str) -> Flow:
        record = yield Call("cancel", (self._uuid_str(uuid), reason or "cancelled"))
        return self._to_task(record) if record is not None else None

    def _ping_flow(self, server: bool) -> Flow:
        yield from self._fire("qtasks_ping", qtasks=self, global_config=self.backend)
        if not server:
            return True
        workers = yield Call("live_workers", ())
        return bool(workers)

    def _flush_flow(self) -> Flow:
        yield from self._fire("qtasks_flush_all", qtasks=self, broker=self.backend)
        yield from self._fire("broker_flush_all", broker=self.backend)
        yield from self._fire("storage_flush_all", storage=self.backend)
        yield Call("purge", ())

    def _stop_flow(self) -> Flow:
        yield from self._fire("qtasks_stop", qtasks=self, starter=self.starter)

    def _fire(self, name: str, **kwargs: Any) -> Flow:
        """`changes = yield from self._fire(...)`: what plugins changed ({} when none
        listen, without a step)."""
        if not self.hooks.listens(name):
            return {}
        changes: dict[str, Any] = yield Hook(name, kwargs)
        return changes

    def _perform_sync(self, step: Any) -> Any:
        if isinstance(step, Call):
            return getattr(self.backend, f"{step.method}_sync")(*step.args)
        return self.hooks.run_sync(step.name, **step.kwargs)

    async def _perform_async(self, step: Any) -> Any:
        if isinstance(step, Call):
            return await getattr(self.backend, step.method)(*step.args)
        return await self.hooks.run(step.name, **step.kwargs)

    def _run_sync(self, flow: Flow) -> Any:
        return run_sync(flow, self._perform_sync)

    async def _run_async(self, flow: Flow) -> Any:
        return await run_async(flow, self._perform_async)

    # Names the task objects, contexts and results call (both apps have all of them).
    def _add_task_sync(
        self,
        task_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        priority: int | None = None,
        timeout: float | None = None,
    ) -> Task | None:
        return self._run_sync(self._add_flow(task_name, args, kwargs, priority, timeout))

    async def _add_task_async(
        self,
        task_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        priority: int | None = None,
        timeout: float | None = None,
    ) -> Task | None:
        flow = self._add_flow(task_name, args, kwargs, priority, timeout)
        return await self._run_async(flow)

    def _get_sync(self, uuid: UUID | str) -> Task | None:
        return self._run_sync(self._get_flow(uuid))

    async def _get_async(self, uuid: UUID | str) -> Task | None:
        return await self._run_async(self._get_flow(uuid))

    def _wait_sync(self, uuid: UUID | str, timeout: float) -> Task | None:
        return self._run_sync(self._wait_flow(uuid, timeout))

    async def _wait_async(self, uuid: UUID | str, timeout: float) -> Task | None:
        return await self._run_async(self._wait_flow(uuid, timeout))

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.QueueTasks name={self.name!r} backend={self.backend!r}>"


def _new_uuids(n: int) -> list[UUID]:
    """`n` random (version 4) uuids from one read of the system's random source."""
    raw = os.urandom(16 * n)
    return [
        UUID(int=int.from_bytes(raw[i : i + 16], "big"), version=4) for i in range(0, 16 * n, 16)
    ]


def _normalise_call(call: Any) -> tuple[str, tuple[Any, ...], dict[str, Any], int | None]:
    """A batch entry: a pre-built call `task(...)`, or `(name, args[, kwargs])`."""
    if isinstance(call, BaseTaskCls):
        name = call.task_name
        if name is None:
            raise ValueError(f"{call!r} has no task name")
        return name, tuple(call.args), dict(call.kwargs), call.priority
    if isinstance(call, (tuple, list)) and 1 <= len(call) <= 3 and isinstance(call[0], str):
        args = tuple(call[1]) if len(call) > 1 else ()
        kwargs = dict(call[2]) if len(call) > 2 else {}
        return call[0], args, kwargs, None
    raise TypeError(
        f"add_tasks() takes pre-built calls like task(1, 2) or (name, args, kwargs) tuples, "
        f"got {call!r}"
    )


def _apply_add_changes(
    changes: dict[str, Any],
    task_name: str,
    priority: int | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[str, int | None, tuple[Any, ...], dict[str, Any], dict[str, Any]]:
    """What a `qtasks_add_task_before_broker` plugin changed; untouched keys stay."""
    return (
        changes.get("task_name", task_name),
        changes.get("priority", priority),
        tuple(changes["args"]) if changes.get("args") is not None else args,
        dict(changes["kw"]) if changes.get("kw") is not None else kwargs,
        dict(changes.get("extra") or {}),
    )


__all__ = ["BaseQueueTasks"]
