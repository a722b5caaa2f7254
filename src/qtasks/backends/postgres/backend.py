"""`postgresql://` (also `postgres://`): one PostgreSQL database as queue and result
store, completing atomically, waking workers and waiters by LISTEN/NOTIFY, and
enqueueing inside the caller's own transaction (`enqueue_in`).

Every operation is one generator of statements (`ops.py`) run by the driver on a sync
connection (sync client, the worker's lease thread) or an async one (worker, async
client); waits are flows of steps driven by `core.steps`, woken by the process's
listener thread (`listener.py`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar, TypeVar

import psycopg

from qtasks.backends.base import Backend
from qtasks.backends.postgres import coordination, inspect, ops
from qtasks.backends.postgres.driver import Db, Target, drive_async, drive_sync
from qtasks.backends.postgres.listener import Waiters, give_waiters, take_waiters
from qtasks.backends.postgres.schema import LATEST, channel, schema_sql
from qtasks.backends.postgres.sql import statements
from qtasks.backends.signals import LOAD, Pause, Signal, WaitSteps, waits, waits_sync
from qtasks.core.inspection import TaskPage, TaskQuery
from qtasks.core.models import (
    DEFAULT_QUEUE,
    Completion,
    DeadLetter,
    Delivery,
    TaskRecord,
    progress_moved,
    settled,
)
from qtasks.core.ports import (
    Capabilities,
    Coordination,
    DeadLetters,
    Inspection,
    SchemaMigrations,
    TransactionalEnqueue,
)
from qtasks.core.status import SETTLED_STATUSES
from qtasks.core.steps import run_async, run_sync
from qtasks.exc import ConfigError

T = TypeVar("T")


class PostgresBackend(
    Backend, DeadLetters, Inspection, TransactionalEnqueue, SchemaMigrations, Coordination
):
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    capabilities: ClassVar[Capabilities] = Capabilities(
        priorities=True,
        delays=True,
        push=True,
        atomic_completion=True,
        cancel_queued=True,
        dead_letters=True,
        worker_registry=True,
        coordination=True,
        transactional_enqueue=True,
        inspection=True,
    )

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.target = Target(url)
        self.schema = self.target.schema
        self._sql = statements(self.schema)
        self._db = Db(self.target, self.log)
        self._queued_channel = channel(self.schema, self.namespace, "q")
        self._results_channel = channel(self.schema, self.namespace, "r")
        self._channels = (self._queued_channel, self._results_channel)
        self._waiters: Waiters | None = None
        self._waiters_pid = 0

    def describe(self) -> str:
        return f"{self.target.where} (schema {self.schema})"

    def _op(self, fn: Callable[..., ops.Op[T]], *args: Any) -> Callable[[], ops.Op[T]]:
        """The operation `fn` of this schema and app, with `args`, ready to run."""
        return partial(fn, self._sql, self.namespace, *args)

    # --- wake-ups ------------------------------------------------------------------------
    def _wakeups(self) -> Waiters:
        """This app's waiters, LISTENing from the first call on."""
        if self._waiters is None or self._waiters_pid != os.getpid():
            self._waiters = take_waiters(
                self.target.conninfo, self.target.where, self.log, self._channels
            )
            self._waiters_pid = os.getpid()
        return self._waiters

    def _release_wakeups(self) -> None:
        if self._waiters is not None and self._waiters_pid == os.getpid():
            give_waiters(self.target.conninfo, self._channels)
        self._waiters = None

    def _final_steps(
        self, signal: Signal, timeout: float, over: Callable[[TaskRecord | None], bool] = settled
    ) -> WaitSteps[TaskRecord | None]:
        """wait_final, wait_progress: LOAD reads the record until `over(record)`; a Pause
        ends when a write of it is notified (or the deadline passes)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = signal.version
            record: TaskRecord | None = yield LOAD
            if over(record):
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            yield Pause(seen, remaining)

    # --- client side --------------------------------------------------------------------
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        await self._db.run(self._op(ops.enqueue, self._queued_channel, records))

    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._db.run_sync(self._op(ops.enqueue, self._queued_channel, records))

    async def enqueue_in(self, connection: Any, records: Sequence[TaskRecord]) -> None:
        """Enqueue through `connection`, a psycopg connection the caller holds (sync or
        async): inside its open transaction, the tasks exist exactly when it commits
        (and workers are woken then). `ConfigError` for another kind of connection or
        another database."""
        op = self._op(ops.enqueue, self._queued_channel, records)
        if isinstance(connection, psycopg.AsyncConnection):
            self._check_same_database(connection)
            await self._db.ensure_schema_async()
            await drive_async(connection, op())
        else:
            self.enqueue_in_sync(connection, records)

    def enqueue_in_sync(self, connection: Any, records: Sequence[TaskRecord]) -> None:
        """`enqueue_in` with a sync psycopg connection."""
        if not isinstance(connection, psycopg.Connection):
            raise ConfigError(
                "Enqueueing inside a transaction needs a psycopg 3 connection "
                f"(psycopg.Connection or psycopg.AsyncConnection), not {type(connection).__name__}"
            )
        self._check_same_database(connection)
        self._db.ensure_schema()
        drive_sync(connection, self._op(ops.enqueue, self._queued_channel, records)())

    def _check_same_database(self, connection: Any) -> None:
        theirs = connection.info.dbname
        if self.target.database != theirs:
            raise ConfigError(
                f"The connection given is to database {theirs!r}, but the app's queue is "
                f"in {self.target.where}: tasks must be written where workers read them"
            )

    async def put(self, records: Sequence[TaskRecord]) -> None:
        ttl = self.config.result_ttl
        await self._db.run(self._op(ops.put, self._results_channel, records, ttl))

    def put_sync(self, records: Sequence[TaskRecord]) -> None:
        ttl = self.config.result_ttl
        self._db.run_sync(self._op(ops.put, self._results_channel, records, ttl))

    async def get(self, uuid: str) -> TaskRecord | None:
        return await self._db.run(self._op(ops.get, uuid))

    def get_sync(self, uuid: str) -> TaskRecord | None:
        return self._db.run_sync(self._op(ops.get, uuid))

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        with self._wakeups().for_uuid(uuid) as signal:
            steps = self._final_steps(signal, timeout)
            return await run_async(steps, waits(signal, partial(self.get, uuid)))

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        with self._wakeups().for_uuid(uuid) as signal:
            steps = self._final_steps(signal, timeout)
            return run_sync(steps, waits_sync(signal, partial(self.get_sync, uuid)))

    async def wait_progress(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        with self._wakeups().for_uuid(uuid) as signal:
            steps = self._final_steps(signal, timeout, partial(progress_moved, seen=seen))
            return await run_async(steps, waits(signal, partial(self.get, uuid)))

    def wait_progress_sync(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        with self._wakeups().for_uuid(uuid) as signal:
            steps = self._final_steps(signal, timeout, partial(progress_moved, seen=seen))
            return run_sync(steps, waits_sync(signal, partial(self.get_sync, uuid)))

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        ttl = self.config.result_ttl
        record = await self._db.run(self._op(ops.cancel, uuid, reason, ttl), tx=True)
        if record is not None and record.status in SETTLED_STATUSES:
            await self._db.run(partial(self._notify_finished, uuid))
        return record

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        ttl = self.config.result_ttl
        record = self._db.run_sync(self._op(ops.cancel, uuid, reason, ttl), tx=True)
        if record is not None and record.status in SETTLED_STATUSES:
            self._db.run_sync(partial(self._notify_finished, uuid))
        return record

    def _notify_finished(self, uuid: str) -> ops.Op[None]:
        yield ops.Q(self._sql.notify, (self._results_channel, uuid))

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        if not uuids:
            return {}
        return await self._db.run(self._op(ops.cancel_requests, uuids))

    # --- worker side --------------------------------------------------------------------
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        waiters = self._wakeups()
        deadline = time.monotonic() + wait
        while True:
            seen = waiters.queued.version
            got, until = await self._fetch_once(queue, limit, lease, worker_id)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            # Sleep until woken, or until a delayed task is due or a lease ends.
            if until is not None:
                remaining = min(remaining, until + 0.002)
            await waiters.queued.wait(seen, remaining)

    async def _fetch_once(
        self, queue: str, limit: int, lease: float, worker_id: str
    ) -> tuple[list[Delivery], float | None]:
        # The statement cannot be taken back once sent: if our caller is cancelled
        # meanwhile, give back whatever it leased.
        ttl = self.config.result_ttl
        op = self._op(ops.fetch, queue, limit, lease, worker_id, ttl)
        step = asyncio.ensure_future(self._db.run(op))
        try:
            return await asyncio.shield(step)
        except asyncio.CancelledError:
            got, _ = await step
            if got:
                await self.release(got)
            raise

    async def complete(self, completions: Sequence[Completion]) -> None:
        ttl = self.config.result_ttl
        op = self._op(ops.complete, self._channels, completions, ttl)
        await self._db.run(op, tx=ops.needs_transaction(completions))

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        await self._db.run(self._op(ops.ack, deliveries))

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        await self._db.run(self._op(ops.extend, deliveries, lease))

    # The worker's lease thread: that thread's own sync connection, never the event loop's.
    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        self._db.run_sync(self._op(ops.extend, deliveries, lease))

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        await self._db.run(self._op(ops.release, self._queued_channel, deliveries))

    async def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        await self._db.run(self._op(ops.release, self._queued_channel, deliveries, delay))

    async def recover_expired(self, queue: str) -> None:
        # Expired leases need nothing: any fetch takes them. This drops expired records.
        await self.expire()

    async def expire(self) -> None:
        await self._db.run(self._op(ops.maintain, self.config.result_ttl))

    # --- dead letters -------------------------------------------------------------------
    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return await self._db.run(self._op(ops.dead_letters, limit, offset))

    def dead_letters_sync(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return self._db.run_sync(self._op(ops.dead_letters, limit, offset))

    async def requeue_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        op = self._op(ops.requeue_dead_letters, self._queued_channel, uuids)
        return await self._db.run(op, tx=True)

    def requeue_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        op = self._op(ops.requeue_dead_letters, self._queued_channel, uuids)
        return self._db.run_sync(op, tx=True)

    async def purge_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        return await self._db.run(self._op(ops.purge_dead_letters, uuids))

    def purge_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        return self._db.run_sync(self._op(ops.purge_dead_letters, uuids))

    # --- administration -----------------------------------------------------------------
    # --- inspection ---------------------------------------------------------------------
    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        return await self._db.run(self._op(inspect.list_tasks, query))

    def list_tasks_sync(self, query: TaskQuery) -> TaskPage:
        return self._db.run_sync(self._op(inspect.list_tasks, query))

    async def count_tasks(self) -> dict[str, dict[str, int]]:
        return await self._db.run(self._op(inspect.count_tasks))

    def count_tasks_sync(self) -> dict[str, dict[str, int]]:
        return self._db.run_sync(self._op(inspect.count_tasks))

    async def purge_tasks(self, queue: str | None = None, status: str | None = None) -> int:
        return await self._db.run(self._op(inspect.purge_tasks, queue, status))

    def purge_tasks_sync(self, queue: str | None = None, status: str | None = None) -> int:
        return self._db.run_sync(self._op(inspect.purge_tasks, queue, status))

    async def pause_queue(self, queue: str) -> None:
        await self._db.run(self._op(inspect.pause, queue, True))

    def pause_queue_sync(self, queue: str) -> None:
        self._db.run_sync(self._op(inspect.pause, queue, True))

    async def resume_queue(self, queue: str) -> None:
        await self._db.run(self._op(inspect.pause, queue, False))

    def resume_queue_sync(self, queue: str) -> None:
        self._db.run_sync(self._op(inspect.pause, queue, False))

    async def paused_queues(self) -> list[str]:
        return await self._db.run(self._op(inspect.paused_queues))

    def paused_queues_sync(self) -> list[str]:
        return self._db.run_sync(self._op(inspect.paused_queues))

    async def purge(self) -> None:
        await self._db.run(self._op(ops.purge), tx=True)

    def purge_sync(self) -> None:
        self._db.run_sync(self._op(ops.purge), tx=True)

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        return await self._db.run(self._op(ops.stats, queue))

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        await self._db.run(self._op(ops.register_worker, worker_id, info, ttl))

    def register_worker_sync(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        self._db.run_sync(self._op(ops.register_worker, worker_id, info, ttl))

    async def unregister_worker(self, worker_id: str) -> None:
        await self._db.run(self._op(ops.unregister_worker, worker_id))

    async def live_workers(self) -> list[dict[str, Any]]:
        return await self._db.run(self._op(ops.live_workers))

    def live_workers_sync(self) -> list[dict[str, Any]]:
        return self._db.run_sync(self._op(ops.live_workers))

    # --- coordination (named leases, shared documents) ------------------------------------
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> float | None:
        return await self._db.run(self._op(coordination.acquire_lease, name, holder, ttl))

    async def release_lease(self, name: str, holder: str) -> None:
        await self._db.run(self._op(coordination.release_lease, name, holder))

    async def lease_holder(self, name: str) -> str | None:
        return await self._db.run(self._op(coordination.lease_holder, name))

    async def put_document(self, collection: str, key: str, document: dict[str, Any]) -> None:
        await self._db.run(self._op(coordination.put_document, collection, key, document))

    async def get_document(self, collection: str, key: str) -> dict[str, Any] | None:
        return await self._db.run(self._op(coordination.get_document, collection, key))

    async def list_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        return await self._db.run(self._op(coordination.list_documents, collection))

    async def delete_document(self, collection: str, key: str) -> bool:
        return await self._db.run(self._op(coordination.delete_document, collection, key))

    # --- the schema -----------------------------------------------------------------------
    def schema_version_sync(self) -> tuple[int, int]:
        return self._db.version_sync(), LATEST

    def migrate_sync(self) -> list[int]:
        return self._db.migrate_sync()

    def schema_script(self) -> str:
        return schema_sql(self.schema)

    async def close(self) -> None:
        self._release_wakeups()
        await self._db.close()

    def close_sync(self) -> None:
        self._release_wakeups()
        self._db.close_sync()


__all__ = ["PostgresBackend"]
