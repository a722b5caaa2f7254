"""`memory://[name]`: an in-process backend for tests and embedding.

All apps of one process that use the same `memory://name` URL share one store (so a
client app and a worker app meet), isolated by namespace. Operations are plain code
under a lock; sync and async methods share it, waiting uses `Signal`.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import threading
import time
import uuid as uuid_mod
from collections.abc import Sequence
from typing import Any, ClassVar

from qtasks.backends.base import Backend, Completion, Delivery, TaskRecord
from qtasks.backends.signals import Pause, Signal, WaitSteps, run_wait, run_wait_sync
from qtasks.core import codec as serialization

_Key = tuple[str, str]  # (namespace, uuid)


class _Store:
    """The shared state behind one `memory://name` URL."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[_Key, TaskRecord] = {}
        # (namespace, queue) -> heap of (priority, seq, uuid) for due tasks
        self.ready: dict[_Key, list[tuple[int, int, str]]] = {}
        # (namespace, queue) -> heap of (eta, priority, seq, uuid) for delayed tasks
        self.delayed: dict[_Key, list[tuple[float, int, int, str]]] = {}
        # (namespace, uuid) -> (deadline, token)
        self.leases: dict[_Key, tuple[float, str]] = {}
        self.expiry: list[tuple[float, str, str]] = []  # (expires_at, namespace, uuid)
        self.workers: dict[_Key, tuple[float, dict[str, Any]]] = {}
        self.seq = itertools.count()
        self.queued = Signal()
        self.finished = Signal()


_STORES: dict[str, _Store] = {}
_STORES_LOCK = threading.Lock()


def _store_for(url: str) -> _Store:
    name = url.split("://", 1)[1].strip("/") or "default"
    with _STORES_LOCK:
        return _STORES.setdefault(name, _Store())


def _copy(record: TaskRecord) -> TaskRecord:
    return dataclasses.replace(
        record, args=list(record.args), kwargs=dict(record.kwargs), extra=dict(record.extra)
    )


def _stored(record: TaskRecord) -> TaskRecord:
    """The record as a real backend would give it back: through JSON, so arguments
    that other backends cannot store fail here too, and tuples come back as lists."""
    return dataclasses.replace(
        record,
        args=serialization.loads(serialization.dumps(record.args, what="task args")),
        kwargs=serialization.loads(serialization.dumps(record.kwargs, what="task kwargs")),
        returning=serialization.loads(serialization.dumps(record.returning, what="task result")),
        extra=serialization.loads(serialization.dumps(record.extra, what="task extra fields")),
    )


class MemoryBackend(Backend):
    schemes: ClassVar[tuple[str, ...]] = ("memory",)
    pushes: ClassVar[bool] = True

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._store = _store_for(url)

    # --- shared (lock-held) operations ----------------------------------------------------
    def _push(self, record: TaskRecord) -> None:
        s, ns = self._store, self.namespace
        seq = next(s.seq)
        if record.eta is not None and record.eta > time.time():
            heapq.heappush(
                s.delayed.setdefault((ns, record.queue), []),
                (record.eta, record.priority, seq, record.uuid),
            )
        else:
            heapq.heappush(
                s.ready.setdefault((ns, record.queue), []), (record.priority, seq, record.uuid)
            )

    def _enqueue(self, records: Sequence[TaskRecord]) -> None:
        s = self._store
        stored = [_stored(r) for r in records]  # fail before touching the store
        with s.lock:
            for record in stored:
                s.records[(self.namespace, record.uuid)] = record
                self._push(record)
        s.queued.notify()

    def _get(self, uuid: str) -> TaskRecord | None:
        s = self._store
        with s.lock:
            self._expire(time.time())
            record = s.records.get((self.namespace, uuid))
            return _copy(record) if record is not None else None

    def _expire(self, now: float) -> None:
        s = self._store
        while s.expiry and s.expiry[0][0] <= now:
            _, ns, uuid = heapq.heappop(s.expiry)
            record = s.records.get((ns, uuid))
            if record is not None and (record.is_final or record.status == "retry"):
                del s.records[(ns, uuid)]

    def _recover(self, now: float) -> bool:
        """Requeue expired leases; True when any was requeued."""
        s, moved = self._store, False
        for key, (deadline, _token) in list(s.leases.items()):
            if key[0] != self.namespace or deadline > now:
                continue
            del s.leases[key]
            record = s.records.get(key)
            if record is not None and not record.is_final:
                record.status = "new"
                record.updated_at = now
                self._push(record)
                moved = True
        return moved

    def _take(self, queue: str, limit: int, lease: float, worker_id: str) -> list[Delivery]:
        s, ns, now = self._store, self.namespace, time.time()
        out: list[Delivery] = []
        with s.lock:
            self._recover(now)
            delayed = s.delayed.get((ns, queue))
            while delayed and delayed[0][0] <= now:
                _eta, prio, seq, uuid = heapq.heappop(delayed)
                heapq.heappush(s.ready.setdefault((ns, queue), []), (prio, seq, uuid))
            heap = s.ready.get((ns, queue))
            while heap and len(out) < limit:
                _prio, _seq, uuid = heapq.heappop(heap)
                record = s.records.get((ns, uuid))
                if record is None or record.status != "new":
                    continue  # cancelled or expired while queued
                token = f"{worker_id}:{uuid_mod.uuid4().hex[:8]}"
                record.status = "process"
                record.updated_at = now
                record.attempts += 1
                s.leases[(ns, uuid)] = (now + lease, token)
                out.append(Delivery(_copy(record), token))
        return out

    def _next_wakeup(self, queue: str) -> float | None:
        """Seconds until a delayed task is due or a lease expires, if any."""
        s, ns, now = self._store, self.namespace, time.time()
        times = [d for k, (d, _t) in s.leases.items() if k[0] == ns]
        delayed = s.delayed.get((ns, queue))
        if delayed:
            times.append(delayed[0][0])
        return max(0.0, min(times) - now) if times else None

    def _complete(self, completions: Sequence[Completion]) -> None:
        s, ns = self._store, self.namespace
        finals = [(c, _stored(c.record), [_stored(f) for f in c.followups]) for c in completions]
        with s.lock:
            now = time.time()
            for c, final, followups in finals:
                key = (ns, c.record.uuid)
                lease = s.leases.get(key)
                if lease is not None and lease[1] == c.delivery.token:
                    del s.leases[key]
                s.records[key] = final
                heapq.heappush(s.expiry, (now + self.config.result_ttl, ns, final.uuid))
                for followup in followups:
                    s.records[(ns, followup.uuid)] = followup
                    self._push(followup)
        s.finished.notify()
        s.queued.notify()

    def _cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        s = self._store
        with s.lock:
            record = s.records.get((self.namespace, uuid))
            if record is None or record.is_final or record.status == "retry":
                return None
            if record.status == "process":
                record.extra["cancel_requested"] = reason
                return _copy(record)
            record.status = "cancel"
            record.updated_at = time.time()
            record.extra["cancel_reason"] = reason
            heapq.heappush(
                s.expiry, (record.updated_at + self.config.result_ttl, self.namespace, uuid)
            )
            result = _copy(record)
        s.finished.notify()
        return result

    def _final_steps(self, uuid: str, timeout: float) -> WaitSteps:
        """wait_final, written once for both drivers."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self._store.finished.version
            record = self._get(uuid)
            if record is None or record.is_final or record.status == "retry":
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            yield Pause(seen, remaining)

    # --- async contract ---------------------------------------------------------------------
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        self._enqueue(records)

    async def get(self, uuid: str) -> TaskRecord | None:
        return self._get(uuid)

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        return await run_wait(self._store.finished, self._final_steps(uuid, timeout))

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        return self._cancel(uuid, reason)

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        s, ns, out = self._store, self.namespace, {}
        with s.lock:
            for uuid in uuids:
                record = s.records.get((ns, uuid))
                if record is not None and "cancel_requested" in record.extra:
                    out[uuid] = str(record.extra["cancel_requested"])
        return out

    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        deadline = time.monotonic() + wait
        while True:
            seen = self._store.queued.version
            got = self._take(queue, limit, lease, worker_id)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            with self._store.lock:
                wake = self._next_wakeup(queue)
            if wake is not None:
                remaining = min(remaining, wake + 0.001)
            await self._store.queued.wait(seen, remaining)

    async def complete(self, completions: Sequence[Completion]) -> None:
        self._complete(completions)

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        s, ns = self._store, self.namespace
        with s.lock:
            deadline = time.time() + lease
            for d in deliveries:
                key = (ns, d.record.uuid)
                current = s.leases.get(key)
                if current is not None and current[1] == d.token:
                    s.leases[key] = (deadline, d.token)

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        s, ns = self._store, self.namespace
        with s.lock:
            for d in deliveries:
                key = (ns, d.record.uuid)
                current = s.leases.get(key)
                if current is None or current[1] != d.token:
                    continue
                del s.leases[key]
                record = s.records.get(key)
                if record is not None and not record.is_final:
                    record.status = "new"
                    self._push(record)
        s.queued.notify()

    def _purge(self) -> None:
        s, ns = self._store, self.namespace
        with s.lock:
            for table in (s.records, s.ready, s.delayed, s.leases, s.workers):
                for key in [k for k in table if k[0] == ns]:
                    del table[key]

    async def stats(self, queue: str = "default") -> dict[str, int]:
        s, ns = self._store, self.namespace
        with s.lock:
            queued = sum(1 for r in s.records.values() if r.status == "new" and r.queue == queue)
            leased = sum(1 for k in s.leases if k[0] == ns)
            return {"queued": queued, "leased": leased}

    async def purge(self) -> None:
        self._purge()

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        with self._store.lock:
            self._store.workers[(self.namespace, worker_id)] = (time.time() + ttl, dict(info))

    async def unregister_worker(self, worker_id: str) -> None:
        with self._store.lock:
            self._store.workers.pop((self.namespace, worker_id), None)

    async def live_workers(self) -> list[dict[str, Any]]:
        return self._live_workers()

    def _live_workers(self) -> list[dict[str, Any]]:
        now = time.time()
        with self._store.lock:
            return [
                dict(info, worker_id=k[1])
                for k, (deadline, info) in self._store.workers.items()
                if k[0] == self.namespace and deadline > now
            ]

    # --- sync twins: the same operations, no portal needed ---------------------------------
    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._enqueue(records)

    def get_sync(self, uuid: str) -> TaskRecord | None:
        return self._get(uuid)

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        return run_wait_sync(self._store.finished, self._final_steps(uuid, timeout))

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        return self._cancel(uuid, reason)

    def purge_sync(self) -> None:
        self._purge()

    def live_workers_sync(self) -> list[dict[str, Any]]:
        return self._live_workers()

    def close_sync(self) -> None:
        pass


__all__ = ["MemoryBackend"]
