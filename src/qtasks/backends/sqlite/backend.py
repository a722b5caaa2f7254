"""`sqlite:///path`: the embedded default backend, a file shared by the processes of
one machine, completing atomically. No server.

Every operation is one function over a connection (`ops.py`). The sync client runs it
directly; async callers run it on the loop thread when it need not wait for a lock (the
common case: microseconds), else on one dedicated thread per backend (SQLite serialises
writers anyway), so the event loop never blocks on the file. Waiting polls adaptively
(1 ms growing to 50 ms), and in-process waiters are woken at once through a `Signal`;
both waits are flows of steps driven by `core.steps`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar, TypeVar

from qtasks.backends.base import Backend
from qtasks.backends.signals import LOAD, Pause, Signal, WaitSteps, waits, waits_sync
from qtasks.backends.sqlite import coordination, inspect, ops, workers
from qtasks.backends.sqlite.driver import Db, data_version, path_from_url
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
from qtasks.core.ports import Capabilities, Coordination, DeadLetters, Inspection
from qtasks.core.steps import run_async, run_sync

T = TypeVar("T")

# In-process wake-ups, per database file, shared by every backend object on it.
_SIGNALS: dict[str, tuple[Signal, Signal]] = {}
_SIGNALS_LOCK = threading.Lock()


def _signals_for(path: str) -> tuple[Signal, Signal]:
    with _SIGNALS_LOCK:
        return _SIGNALS.setdefault(path, (Signal(), Signal()))


#: Waiting probes `data_version` every 1 ms, growing to 10 ms while nothing changes, and
#: re-queries every 50 ms, growing to 250 ms (delayed tasks and expired leases commit
#: nothing, so they are seen by a re-query).
_MIN_PROBE, _MAX_PROBE = 0.001, 0.01
_REQUERY, _MAX_REQUERY = 0.05, 0.25


class SqliteBackend(Backend, DeadLetters, Inspection, Coordination):
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    capabilities: ClassVar[Capabilities] = Capabilities(
        priorities=True,
        delays=True,
        push=False,  # other processes' writes are noticed by polling
        atomic_completion=True,
        cancel_queued=True,
        dead_letters=True,
        worker_registry=True,
        inspection=True,
        coordination=True,
    )

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.path = path_from_url(url)
        self._db = Db(self.path, ops.SCHEMA, log=self.log)
        # Async callers run each operation on the loop thread when it need not wait for a
        # lock (the common case: microseconds); otherwise on the backend's own thread.
        self._inline = Db(self.path, ops.SCHEMA, busy_ms=0, log=self.log)
        self._last_change = time.monotonic()
        self._queued, self._finished = _signals_for(self.path)
        self._thread: ThreadPoolExecutor | None = None
        self._thread_pid = 0

    async def _run(self, op: Callable[..., T], *args: Any) -> T:
        ran, result = self._inline.try_run(op, *args)
        if ran:
            return result  # type: ignore[return-value]
        return await self._on_thread(op, *args)

    async def _on_thread(self, op: Callable[..., T], *args: Any) -> T:
        if self._thread is None or self._thread_pid != os.getpid():
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="qtasks-sqlite")
            self._thread_pid = os.getpid()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._db.run, op, *args)

    # --- waits, written once for sync and async callers -----------------------------------
    def _data_version(self) -> int | None:
        ran, version = self._inline.try_run(data_version)
        return version if ran else None

    def _pace(self, budget: float) -> tuple[float, float]:
        """(deadline, first probe step) for one wait. The longer nothing has changed,
        the sparser the probes (1 ms up to `_MAX_PROBE`) and re-queries (`_REQUERY` up to
        `_MAX_REQUERY`), so an idle worker costs little and a busy one reacts at once."""
        quiet = time.monotonic() - self._last_change
        requery = min(_MAX_REQUERY, max(_REQUERY, quiet / 4))
        step = min(_MAX_PROBE, max(_MIN_PROBE, quiet / 20))
        return time.monotonic() + min(budget, requery), step

    def _changed(self, base: int | None) -> bool:
        version = self._data_version()
        if version is None or version != base:
            self._last_change = time.monotonic()
            return True
        return False

    def _until_change(self, seen: int, base: int | None, budget: float) -> WaitSteps[Any]:
        """Pause until this process signals, another connection commits (`base` is the
        data version read before the caller's query), or the paced budget passes."""
        deadline, step = self._pace(budget)
        while (remaining := deadline - time.monotonic()) > 0:
            if (yield Pause(seen, min(step, remaining))):
                self._last_change = time.monotonic()
                return
            if self._changed(base):
                return
            step = min(step * 1.25, _MAX_PROBE)

    def _final_steps(
        self, uuid: str, timeout: float, over: Callable[[TaskRecord | None], bool] = settled
    ) -> WaitSteps[TaskRecord | None]:
        """wait_final, wait_progress: LOAD reads the record until `over(record)`; a put
        in this process notifies, another process's commit moves the data version."""
        deadline = time.monotonic() + timeout
        while True:
            seen, base = self._finished.version, self._data_version()
            record: TaskRecord | None = yield LOAD
            if over(record):
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            yield from self._until_change(seen, base, remaining)

    def _fetch_steps(self, wait: float) -> WaitSteps[Any]:
        """fetch: LOAD leases what is due."""
        deadline = time.monotonic() + wait
        while True:
            seen, base = self._queued.version, self._data_version()
            got = yield LOAD
            if got:
                self._last_change = time.monotonic()
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return got
            yield from self._until_change(seen, base, remaining)

    # --- client side --------------------------------------------------------------------
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        await self._run(ops.op_enqueue, self.namespace, records)
        self._last_change = time.monotonic()  # a waiter for these starts probing fast
        self._queued.notify()

    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._db.run(ops.op_enqueue, self.namespace, records)
        self._last_change = time.monotonic()  # a waiter for these starts probing fast
        self._queued.notify()

    async def put(self, records: Sequence[TaskRecord]) -> None:
        if records:
            await self._run(ops.op_put, self.namespace, records, self.config.result_ttl)
            self._finished.notify()

    async def get(self, uuid: str) -> TaskRecord | None:
        return await self._run(ops.op_get, self.namespace, uuid)

    def get_sync(self, uuid: str) -> TaskRecord | None:
        return self._db.run(ops.op_get, self.namespace, uuid)

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        steps = self._final_steps(uuid, timeout)
        return await run_async(steps, waits(self._finished, partial(self.get, uuid)))

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        steps = self._final_steps(uuid, timeout)
        return run_sync(steps, waits_sync(self._finished, partial(self.get_sync, uuid)))

    async def wait_progress(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        steps = self._final_steps(uuid, timeout, partial(progress_moved, seen=seen))
        return await run_async(steps, waits(self._finished, partial(self.get, uuid)))

    def wait_progress_sync(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        steps = self._final_steps(uuid, timeout, partial(progress_moved, seen=seen))
        return run_sync(steps, waits_sync(self._finished, partial(self.get_sync, uuid)))

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        ttl = self.config.result_ttl
        record = await self._run(ops.op_cancel, self.namespace, uuid, reason, ttl)
        self._finished.notify()
        return record

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        ttl = self.config.result_ttl
        record = self._db.run(ops.op_cancel, self.namespace, uuid, reason, ttl)
        self._finished.notify()
        return record

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        if not uuids:
            return {}
        return await self._run(ops.op_cancel_requests, self.namespace, uuids)

    # --- worker side --------------------------------------------------------------------
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        load = partial(self._fetch_once, queue, limit, lease, worker_id)
        return await run_async(self._fetch_steps(wait), waits(self._queued, load))

    async def _fetch_once(
        self, queue: str, limit: int, lease: float, worker_id: str
    ) -> list[Delivery]:
        # The query runs on a thread and cannot be interrupted: if our caller is
        # cancelled meanwhile, give back whatever the query leased.
        ttl = self.config.result_ttl  # of the `error` record of a row it cannot decode
        step = asyncio.ensure_future(
            self._run(ops.op_fetch, self.namespace, queue, limit, lease, worker_id, ttl)
        )
        try:
            return await asyncio.shield(step)
        except asyncio.CancelledError:
            got = await step
            if got:
                await self.release(got)
            raise

    async def complete(self, completions: Sequence[Completion]) -> None:
        ttl = self.config.result_ttl
        await self._run(ops.op_complete, self.namespace, completions, ttl)
        self._finished.notify()
        if any(c.followups for c in completions):
            self._queued.notify()

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            await self._run(ops.op_ack, self.namespace, deliveries)

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        if deliveries:
            await self._run(ops.op_extend, self.namespace, deliveries, lease)

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            await self._run(ops.op_release, self.namespace, deliveries)
            self._queued.notify()

    # Upkeep may work for up to `ops.UPKEEP_BUDGET` seconds (deleting many expired
    # records, giving their space back): always on the backend's thread, never the loop.
    async def recover_expired(self, queue: str) -> None:
        await self._on_thread(
            ops.op_maintain, self.namespace, ops.UPKEEP_BUDGET, self.config.result_ttl
        )

    async def expire(self) -> None:
        await self._on_thread(
            ops.op_maintain, self.namespace, ops.UPKEEP_BUDGET, self.config.result_ttl
        )

    # --- dead letters -------------------------------------------------------------------
    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return await self._run(ops.op_dead_letters, self.namespace, limit, offset)

    def dead_letters_sync(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return self._db.run(ops.op_dead_letters, self.namespace, limit, offset)

    async def requeue_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        count = await self._run(ops.op_requeue_dead_letters, self.namespace, uuids)
        self._queued.notify()
        return count

    def requeue_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        count = self._db.run(ops.op_requeue_dead_letters, self.namespace, uuids)
        self._queued.notify()
        return count

    async def purge_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        return await self._run(ops.op_purge_dead_letters, self.namespace, uuids)

    def purge_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        return self._db.run(ops.op_purge_dead_letters, self.namespace, uuids)

    # --- inspection ---------------------------------------------------------------------
    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        return await self._run(inspect.op_list_tasks, self.namespace, query)

    def list_tasks_sync(self, query: TaskQuery) -> TaskPage:
        return self._db.run(inspect.op_list_tasks, self.namespace, query)

    async def count_tasks(self) -> dict[str, dict[str, int]]:
        return await self._run(inspect.op_count_tasks, self.namespace)

    def count_tasks_sync(self) -> dict[str, dict[str, int]]:
        return self._db.run(inspect.op_count_tasks, self.namespace)

    async def purge_tasks(self, queue: str | None = None, status: str | None = None) -> int:
        return await self._run(inspect.op_purge_tasks, self.namespace, queue, status)

    def purge_tasks_sync(self, queue: str | None = None, status: str | None = None) -> int:
        return self._db.run(inspect.op_purge_tasks, self.namespace, queue, status)

    async def pause_queue(self, queue: str) -> None:
        await self._run(inspect.op_pause, self.namespace, queue, True)

    def pause_queue_sync(self, queue: str) -> None:
        self._db.run(inspect.op_pause, self.namespace, queue, True)

    async def resume_queue(self, queue: str) -> None:
        await self._run(inspect.op_pause, self.namespace, queue, False)

    def resume_queue_sync(self, queue: str) -> None:
        self._db.run(inspect.op_pause, self.namespace, queue, False)

    async def paused_queues(self) -> list[str]:
        return await self._run(inspect.op_paused_queues, self.namespace)

    def paused_queues_sync(self) -> list[str]:
        return self._db.run(inspect.op_paused_queues, self.namespace)

    # --- administration -----------------------------------------------------------------
    async def purge(self) -> None:
        await self._run(ops.op_purge, self.namespace)

    def purge_sync(self) -> None:
        self._db.run(ops.op_purge, self.namespace)

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        return await self._run(ops.op_stats, self.namespace, queue)

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        await self._run(workers.op_register_worker, self.namespace, worker_id, info, ttl)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._run(workers.op_unregister_worker, self.namespace, worker_id)

    async def live_workers(self) -> list[dict[str, Any]]:
        return await self._run(workers.op_live_workers, self.namespace)

    def live_workers_sync(self) -> list[dict[str, Any]]:
        return self._db.run(workers.op_live_workers, self.namespace)

    # --- coordination (named leases, shared documents) ------------------------------------
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> float | None:
        return await self._run(coordination.op_acquire_lease, self.namespace, name, holder, ttl)

    async def release_lease(self, name: str, holder: str) -> None:
        await self._run(coordination.op_release_lease, self.namespace, name, holder)

    async def lease_holder(self, name: str) -> str | None:
        return await self._run(coordination.op_lease_holder, self.namespace, name)

    async def put_document(self, collection: str, key: str, document: dict[str, Any]) -> None:
        await self._run(coordination.op_put_document, self.namespace, collection, key, document)

    async def get_document(self, collection: str, key: str) -> dict[str, Any] | None:
        return await self._run(coordination.op_get_document, self.namespace, collection, key)

    async def list_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        return await self._run(coordination.op_list_documents, self.namespace, collection)

    async def delete_document(self, collection: str, key: str) -> bool:
        return await self._run(coordination.op_delete_document, self.namespace, collection, key)

    # The worker's lease thread: the sync driver's connection, which the event loop only
    # borrows through the backend's own thread, so a blocked loop never holds it.
    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        if deliveries:
            self._db.run(ops.op_extend, self.namespace, deliveries, lease)

    def register_worker_sync(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        self._db.run(workers.op_register_worker, self.namespace, worker_id, info, ttl)

    async def close(self) -> None:
        if self._thread is not None and self._thread_pid == os.getpid():
            await self._run(lambda conn: None)
            self._thread.shutdown(wait=False)
        self._thread = None
        self._db.close()
        self._inline.close()

    def close_sync(self) -> None:
        if self._thread is not None and self._thread_pid == os.getpid():
            self._thread.shutdown(wait=True)
        self._thread = None
        self._db.close()
        self._inline.close()


__all__ = ["SqliteBackend"]
