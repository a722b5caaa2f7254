"""`memory://[name]`: an in-process backend for tests and embedding.

All apps of one process that use the same `memory://name` URL share one store (so a
client app and a worker app meet), isolated by namespace. Every operation is plain code
under the store's lock (`store.py`), the same for sync and async callers; waiting is a
flow of `Pause` steps driven by `core.steps` on the store's `Signal`s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

from qtasks.backends.base import Backend
from qtasks.backends.memory import inspect
from qtasks.backends.memory.store import store_for
from qtasks.backends.signals import Pause, WaitSteps, waits, waits_sync
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


class MemoryBackend(Backend, DeadLetters, Inspection, Coordination):
    schemes: ClassVar[tuple[str, ...]] = ("memory",)
    capabilities: ClassVar[Capabilities] = Capabilities(
        priorities=True,
        delays=True,
        push=True,  # waiters are woken by the store's signals, in any thread
        atomic_completion=True,
        cancel_queued=True,
        dead_letters=True,
        worker_registry=True,
        inspection=True,
        coordination=True,
    )

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._store = store_for(url)

    # --- waits, written once for sync and async callers -----------------------------------
    def _final_steps(
        self, uuid: str, timeout: float, over: Callable[[TaskRecord | None], bool] = settled
    ) -> WaitSteps[TaskRecord | None]:
        """Wait until `over(record)` (every write notifies `finished`)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self._store.finished.version
            record = self._store.get(self.namespace, uuid)
            if over(record):
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            yield Pause(seen, remaining)

    def _fetch_steps(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> WaitSteps[Any]:
        store, ns = self._store, self.namespace
        deadline = time.monotonic() + wait
        while True:
            seen = store.queued.version
            got = store.take(ns, queue, limit, lease, worker_id)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            wake = store.next_wakeup(ns, queue)
            if wake is not None:
                remaining = min(remaining, wake + 0.001)
            yield Pause(seen, remaining)

    # --- client side --------------------------------------------------------------------
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        self._store.enqueue(self.namespace, records)

    async def put(self, records: Sequence[TaskRecord]) -> None:
        self._store.put(self.namespace, records, self.config.result_ttl)

    async def get(self, uuid: str) -> TaskRecord | None:
        return self._store.get(self.namespace, uuid)

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        return await run_async(self._final_steps(uuid, timeout), waits(self._store.finished))

    async def wait_progress(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        steps = self._final_steps(uuid, timeout, partial(progress_moved, seen=seen))
        return await run_async(steps, waits(self._store.finished))

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        return self._store.cancel(self.namespace, uuid, reason, self.config.result_ttl)

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        return self._store.cancel_requests(self.namespace, uuids)

    # --- worker side --------------------------------------------------------------------
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        steps = self._fetch_steps(queue, limit, lease, worker_id, wait)
        return await run_async(steps, waits(self._store.queued))

    async def complete(self, completions: Sequence[Completion]) -> None:
        self._store.complete(self.namespace, completions, self.config.result_ttl)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        self._store.ack(self.namespace, deliveries)

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        self._store.extend(self.namespace, deliveries, lease)

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        self._store.release(self.namespace, deliveries)

    async def recover_expired(self, queue: str) -> None:
        self._store.maintain(self.namespace, self.config.result_ttl)

    async def expire(self) -> None:
        self._store.maintain(self.namespace, self.config.result_ttl)

    # --- dead letters -------------------------------------------------------------------
    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return self._store.dead_letters(self.namespace, limit, offset)

    async def requeue_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        return self._store.requeue_dead_letters(self.namespace, uuids)

    async def purge_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        return self._store.purge_dead_letters(self.namespace, uuids)

    # --- administration -----------------------------------------------------------------
    async def purge(self) -> None:
        self._store.purge(self.namespace)

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        return self._store.stats(self.namespace, queue)

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        self._store.register_worker(self.namespace, worker_id, info, ttl)

    async def unregister_worker(self, worker_id: str) -> None:
        self._store.unregister_worker(self.namespace, worker_id)

    async def live_workers(self) -> list[dict[str, Any]]:
        return self._store.live_workers(self.namespace)

    # --- inspection: the same code for sync and async callers ----------------------------
    def list_tasks_sync(self, query: TaskQuery) -> TaskPage:
        return inspect.list_tasks(self._store, self.namespace, query)

    def count_tasks_sync(self) -> dict[str, dict[str, int]]:
        return inspect.count_tasks(self._store, self.namespace)

    def purge_tasks_sync(self, queue: str | None = None, status: str | None = None) -> int:
        return inspect.purge_tasks(self._store, self.namespace, queue, status)

    def pause_queue_sync(self, queue: str) -> None:
        inspect.pause(self._store, self.namespace, queue, True)

    def resume_queue_sync(self, queue: str) -> None:
        inspect.pause(self._store, self.namespace, queue, False)

    def paused_queues_sync(self) -> list[str]:
        return inspect.paused_queues(self._store, self.namespace)

    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        return self.list_tasks_sync(query)

    async def count_tasks(self) -> dict[str, dict[str, int]]:
        return self.count_tasks_sync()

    async def purge_tasks(self, queue: str | None = None, status: str | None = None) -> int:
        return self.purge_tasks_sync(queue, status)

    async def pause_queue(self, queue: str) -> None:
        self.pause_queue_sync(queue)

    async def resume_queue(self, queue: str) -> None:
        self.resume_queue_sync(queue)

    async def paused_queues(self) -> list[str]:
        return self.paused_queues_sync()

    # --- coordination (named leases, shared documents) ------------------------------------
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> float | None:
        return self._store.coordination.acquire(self.namespace, name, holder, ttl)

    async def release_lease(self, name: str, holder: str) -> None:
        self._store.coordination.release(self.namespace, name, holder)

    async def lease_holder(self, name: str) -> str | None:
        return self._store.coordination.holder(self.namespace, name)

    async def put_document(self, collection: str, key: str, document: dict[str, Any]) -> None:
        self._store.coordination.put(self.namespace, collection, key, document)

    async def get_document(self, collection: str, key: str) -> dict[str, Any] | None:
        return self._store.coordination.get(self.namespace, collection, key)

    async def list_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        return self._store.coordination.list(self.namespace, collection)

    async def delete_document(self, collection: str, key: str) -> bool:
        return self._store.coordination.delete(self.namespace, collection, key)

    # --- sync twins: the same operations, no portal needed ---------------------------------
    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._store.enqueue(self.namespace, records)

    def get_sync(self, uuid: str) -> TaskRecord | None:
        return self._store.get(self.namespace, uuid)

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        result: TaskRecord | None = run_sync(
            self._final_steps(uuid, timeout), waits_sync(self._store.finished)
        )
        return result

    def wait_progress_sync(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        steps = self._final_steps(uuid, timeout, partial(progress_moved, seen=seen))
        result: TaskRecord | None = run_sync(steps, waits_sync(self._store.finished))
        return result

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        return self._store.cancel(self.namespace, uuid, reason, self.config.result_ttl)

    def purge_sync(self) -> None:
        self._store.purge(self.namespace)

    def dead_letters_sync(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return self._store.dead_letters(self.namespace, limit, offset)

    def requeue_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        return self._store.requeue_dead_letters(self.namespace, uuids)

    def purge_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        return self._store.purge_dead_letters(self.namespace, uuids)

    def live_workers_sync(self) -> list[dict[str, Any]]:
        return self._store.live_workers(self.namespace)

    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        self._store.extend(self.namespace, deliveries, lease)

    def register_worker_sync(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        self._store.register_worker(self.namespace, worker_id, info, ttl)

    def close_sync(self) -> None:
        pass


__all__ = ["MemoryBackend"]
