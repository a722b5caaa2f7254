"""Client operations of an app, written once as flows (see `qtasks.core.steps`) and
driven by the sync app with the backend's sync twins, by the async app with its
coroutines: enqueue (one or many), get, wait (following retries), cancel, ping, purge,
and the dead letters (list, requeue, purge).

The handles (`SyncTask`/`AsyncTask`), contexts, results and chains call the `_add_*`,
`_get_*`, `_wait_*` methods; user code calls the facades' public methods.
"""

from __future__ import annotations

import os
import time
import uuid as uuid_mod
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from qtasks.app.driving import FlowDriver
from qtasks.app.task import Task
from qtasks.core.codec import check_call
from qtasks.core.hooks import HookRunner
from qtasks.core.models import DeadLetter, TaskRecord, TaskSpec
from qtasks.core.policy import eta_from
from qtasks.core.records import check_eta, check_priority, check_seconds, new_record
from qtasks.core.status import RETRY, SETTLED_STATUSES
from qtasks.core.steps import Call, Flow
from qtasks.exc import ArgumentTypeError, ConfigError, SerializationError
from qtasks.registries.task import BaseTaskCls

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.ports import Backend


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


class ClientOperations(FlowDriver):
    """The client half of an app (mixed into `BaseQueueTasks`)."""

    backend: Backend
    config: QueueConfig
    hooks: HookRunner
    _server: Any

    def find_task(self, name: str) -> TaskSpec | None:
        raise NotImplementedError

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
        spec = self.find_task(task_name) if priority is None or queue is None else None
        return new_record(
            task_name,
            args,
            kwargs,
            priority,
            spec=spec,
            default_priority=self.config.task_default_priority,
            eta=eta,
            queue=queue,
            uuid=uuid,
        )

    @staticmethod
    def _to_task(record: TaskRecord, uuid: UUID | None = None) -> Task:
        """The public view of a record; `uuid` is its uuid as an object when the caller has
        one (parsing the string again is a measurable part of an enqueue)."""
        extra = record.extra
        retry = child = parent = progress = None
        if extra:  # most records carry none: skip the copy
            extra = dict(extra)
            retry = extra.pop("retry", None)
            child = extra.pop("retry_child_uuid", None)
            parent = extra.pop("retry_parent_uuid", None)
            progress = extra.pop("progress", None)
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
            record.queue,
            record.attempts,
            progress,
        )

    @staticmethod
    def _uuid_str(uuid: UUID | str) -> str:
        if isinstance(uuid, UUID):
            return str(uuid)
        try:
            return str(UUID(str(uuid)))
        except ValueError:
            raise ConfigError(f"Not a task uuid: {uuid!r}") from None

    @staticmethod
    def _next_in_chain(record: TaskRecord | None) -> str | None:
        """The retry attempt to follow while waiting, if `record` handed over to one."""
        if record is not None and record.status == RETRY:
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
    ) -> Flow[Task | None]:
        check_seconds("timeout", timeout)  # before anything is written
        if timeout is not None and self._enqueue_connection() is not None:
            raise ConfigError(
                "Cannot wait for a task enqueued inside a transaction (in_transaction): "
                "no worker sees it before the commit; wait after committing"
            )
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

    def _enqueue_flow(
        self,
        task_name: str,
        args: tuple[Any, ...] | list[Any],
        kwargs: dict[str, Any] | None,
        priority: int | None,
        delay: float | None,
        eta: Any,
        queue: str | None,
        timeout: float | None,
    ) -> Flow[Task | None]:
        """`enqueue(...)` of the apps and the task handles: every option, `args` and
        `kwargs` passed as they are."""
        check_seconds("delay", delay)
        return self._add_flow(
            task_name,
            tuple(args),
            dict(kwargs or {}),
            priority,
            timeout,
            eta_from(delay, eta),
            queue,
        )

    def _add_many_flow(self, calls: Iterable[Any]) -> Flow[list[Task]]:
        """Many tasks in one backend round trip (`app.add_tasks`)."""
        calls = list(calls)
        uuids = _new_uuids(len(calls))
        texts = [str(u) for u in uuids]
        records = []
        for index, (call, text) in enumerate(zip(calls, texts, strict=True)):
            try:
                task_name, args, kwargs, priority = _normalise_call(call)
                record = yield from self._record_flow(
                    task_name, args, kwargs, priority, None, None, uuid=text
                )
            except (ConfigError, SerializationError) as exc:  # name the entry; none written
                raise type(exc)(f"add_tasks() entry {index}: {exc}") from exc
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
    ) -> Flow[TaskRecord]:
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
        swapped = changes.get("model")
        if swapped is not None and swapped is not record:  # held to the same rules
            check_priority(swapped.priority)
            check_eta(swapped.eta)
            check_call(
                swapped.args,
                swapped.kwargs,
                context=f"Cannot enqueue task {swapped.task_name!r} (as changed by a plugin)",
            )
            record = swapped
        yield from self._fire(
            "storage_add",
            storage=self.backend,
            uuid=record.uuid,
            task_status=record,
        )
        return record

    def _after_add_flow(self, record: TaskRecord) -> Flow[None]:
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

    def _get_flow(self, uuid: UUID | str) -> Flow[Task | None]:
        record = yield Call("get", (self._uuid_str(uuid),))
        return (yield from self._read_flow(record))

    def _read_flow(self, record: TaskRecord | None) -> Flow[Task | None]:
        """A record read, through the `get` hooks (`storage_get`, `broker_get`,
        `qtasks_get`): for `get()` and for the final record a waiter returns, as QTasks
        1.7's waiting read through `app.get`."""
        changes = yield from self._fire("storage_get", storage=self.backend, result=record)
        record = changes.get("result", record)
        task = self._to_task(record) if record is not None else None
        changes = yield from self._fire("broker_get", broker=self.backend, task=task)
        task = changes.get("task", task)
        changes = yield from self._fire("qtasks_get", qtasks=self, broker=self.backend, task=task)
        return changes.get("task", task)

    def _wait_flow(self, uuid: UUID | str, timeout: float) -> Flow[Task | None]:
        """Wait for the final state, following retries to the last attempt.

        A final status always ends the wait. Statuses added to the config's
        `result_statuses_end` that are not final (`process`, say, as QTasks 1.7 allowed)
        end it too; they are looked for every `result_time_interval` seconds, since the
        backend wakes waiters only for final records."""
        deadline = time.monotonic() + timeout
        current: str | None = self._uuid_str(uuid)
        also = set(self.config.result_statuses_end) - SETTLED_STATUSES
        while current is not None:
            remaining = max(0.0, deadline - time.monotonic())
            if also:
                record = yield Call("get", (current,))
                if record is not None and record.status in also:
                    return (yield from self._read_flow(record))
                remaining = min(remaining, max(0.01, float(self.config.result_time_interval)))
            record = yield Call("wait_final", (current, remaining))
            nxt = self._next_in_chain(record)
            if nxt is not None:
                current = nxt
            elif record is not None and record.is_final:
                return (yield from self._read_flow(record))
            elif not also or time.monotonic() >= deadline:
                return None
        return None

    def _cancel_flow(self, uuid: UUID | str, reason: str) -> Flow[Task | None]:
        record = yield Call("cancel", (self._uuid_str(uuid), reason or "cancelled"))
        return self._to_task(record) if record is not None else None

    def _ping_flow(self, server: bool) -> Flow[bool]:
        yield from self._fire("qtasks_ping", qtasks=self, global_config=self.backend)
        if not server:
            return True
        workers = yield Call("live_workers", ())
        return bool(workers)

    def _flush_flow(self) -> Flow[None]:
        yield from self._fire("qtasks_flush_all", qtasks=self, broker=self.backend)
        yield from self._fire("broker_flush_all", broker=self.backend)
        yield from self._fire("storage_flush_all", storage=self.backend)
        yield Call("purge", ())

    def _dead_letters_flow(self, limit: int, offset: int) -> Flow[list[DeadLetter]]:
        self.backend.capabilities.require("dead_letters", self.backend)
        for name, value, least in (("limit", limit, 1), ("offset", offset, 0)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ArgumentTypeError(f"dead_letters({name}=...) takes an int, got {value!r}")
            if value < least:
                raise ConfigError(f"dead_letters({name}=...) must be >= {least}, got {value}")
        letters: list[DeadLetter] = yield Call("dead_letters", (limit, offset))
        return letters

    def _dead_letter_uuids(
        self, method: str, uuids: Iterable[UUID | str] | None
    ) -> list[str] | None:
        self.backend.capabilities.require("dead_letters", self.backend)
        if uuids is None:
            return None
        if isinstance(uuids, (str, UUID)):
            raise ArgumentTypeError(
                f"{method}(uuids=...) takes a list of task uuids (or None for all), got one "
                f"uuid {str(uuids)!r}: pass [{str(uuids)!r}]"
            )
        return [self._uuid_str(u) for u in uuids]

    def _requeue_dead_letters_flow(self, uuids: Iterable[UUID | str] | None) -> Flow[int]:
        chosen = self._dead_letter_uuids("requeue_dead_letters", uuids)
        count: int = yield Call("requeue_dead_letters", (chosen,))
        return count

    def _purge_dead_letters_flow(self, uuids: Iterable[UUID | str] | None) -> Flow[int]:
        chosen = self._dead_letter_uuids("purge_dead_letters", uuids)
        count: int = yield Call("purge_dead_letters", (chosen,))
        return count

    def _stop_flow(self) -> Flow[None]:
        yield from self._fire("qtasks_stop", qtasks=self, starter=self._server)

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
            raise ConfigError(f"{call!r} has no task name")
        return name, tuple(call.args), dict(call.kwargs), call.priority
    if isinstance(call, (tuple, list)) and 1 <= len(call) <= 3 and isinstance(call[0], str):
        args = tuple(call[1]) if len(call) > 1 else ()
        kwargs = dict(call[2]) if len(call) > 2 else {}
        return call[0], args, kwargs, None
    raise ArgumentTypeError(
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


__all__ = ["ClientOperations"]
