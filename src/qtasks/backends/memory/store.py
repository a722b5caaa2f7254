"""The state behind one `memory://name` URL and its operations, each done under one lock.

This is the memory backend's "driver": plain data structures shared by every backend
object of the process on that URL, isolated by namespace. Records go through JSON on
the way in, as on every other backend, so arguments another backend could not store
fail here too.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import threading
import time
import uuid as uuid_mod
from collections.abc import Sequence
from typing import Any

from qtasks.backends.base import requeued
from qtasks.backends.memory.coordination import CoordinationTables
from qtasks.backends.signals import Signal
from qtasks.core import codec
from qtasks.core.models import Completion, DeadLetter, Delivery, TaskRecord
from qtasks.core.policy import cancel_action
from qtasks.core.status import CANCEL, NEW, PROCESS, SETTLED_STATUSES

_Key = tuple[str, str]  # (namespace, uuid) or (namespace, queue)

#: Expired records a write also drops, at most, besides its own count: the sweep is paid
#: for by the writes that make records (amortised), and no write waits on a long one.
_SWEEP_BUDGET = 64


def copy_record(record: TaskRecord) -> TaskRecord:
    return dataclasses.replace(
        record, args=list(record.args), kwargs=dict(record.kwargs), extra=dict(record.extra)
    )


def stored(record: TaskRecord) -> TaskRecord:
    """The record as a real backend would give it back: through JSON, so arguments
    that other backends cannot store fail here too, and tuples come back as lists."""
    return dataclasses.replace(
        record,
        args=codec.loads(codec.dumps(record.args, what="task args")),
        kwargs=codec.loads(codec.dumps(record.kwargs, what="task kwargs")),
        returning=codec.loads(codec.dumps(record.returning, what="task result")),
        extra=codec.loads(codec.dumps(record.extra, what="task extra fields")),
    )


class MemoryStore:
    """Records, queues, leases, dead letters and workers of every namespace on one URL.

    Settled records expire `ttl` seconds after they settle: the worker's upkeep
    (`maintain`) drops every expired one, and each write or read a bounded share
    (`_SWEEP_BUDGET`), so memory stays bounded even when nobody reads the results."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[_Key, TaskRecord] = {}
        # (namespace, queue) -> heap of (priority, seq, uuid) for due tasks
        self.ready: dict[_Key, list[tuple[int, int, str]]] = {}
        # (namespace, queue) -> heap of (eta, priority, seq, uuid) for delayed tasks
        self.delayed: dict[_Key, list[tuple[float, int, int, str]]] = {}
        # (namespace, uuid) -> (deadline, token)
        self.leases: dict[_Key, tuple[float, str]] = {}
        # (namespace, uuid) -> token of a lease that expired while nobody has taken the
        # task again: it is queued, and still its last holder's to complete or release
        self.lapsed: dict[_Key, str] = {}
        # namespace -> uuid -> dead letter, oldest first
        self.dead: dict[str, dict[str, DeadLetter]] = {}
        # settled records: (namespace, uuid) -> when they expire, and a heap of the same
        self.expires: dict[_Key, float] = {}
        self.expiry: list[tuple[float, str, str]] = []
        self.workers: dict[_Key, tuple[float, dict[str, Any]]] = {}
        self.paused: dict[str, set[str]] = {}  # namespace -> paused queues
        self.coordination = CoordinationTables()
        self.seq = itertools.count()
        self.queued = Signal()  # a task became fetchable
        self.finished = Signal()  # a record settled

    # --- helpers; the lock is held --------------------------------------------------------
    def _push(self, ns: str, record: TaskRecord) -> None:
        seq = next(self.seq)
        if record.eta is not None and record.eta > time.time():
            heapq.heappush(
                self.delayed.setdefault((ns, record.queue), []),
                (record.eta, record.priority, seq, record.uuid),
            )
        else:
            heapq.heappush(
                self.ready.setdefault((ns, record.queue), []), (record.priority, seq, record.uuid)
            )

    def _unqueue(self, ns: str, queue: str, uuid: str) -> None:
        ready, delayed = self.ready.get((ns, queue)), self.delayed.get((ns, queue))
        if ready and any(entry[-1] == uuid for entry in ready):
            ready[:] = [entry for entry in ready if entry[-1] != uuid]
            heapq.heapify(ready)
        if delayed and any(entry[-1] == uuid for entry in delayed):
            delayed[:] = [entry for entry in delayed if entry[-1] != uuid]
            heapq.heapify(delayed)

    def _settle(self, key: _Key, record: TaskRecord, at: float) -> None:
        self.records[key] = record
        self.expires[key] = at
        heapq.heappush(self.expiry, (at, key[0], key[1]))

    def _expire(self, now: float, budget: int | None = None) -> None:
        """Drop settled records whose time to live is over: all of them, or `budget`."""
        while self.expiry and self.expiry[0][0] <= now:
            if budget is not None:
                if budget <= 0:
                    return
                budget -= 1
            _, ns, uuid = heapq.heappop(self.expiry)
            key = (ns, uuid)
            if self.expires.get(key, now + 1) <= now:  # not put again since
                del self.expires[key]
                self.records.pop(key, None)

    def _recover(self, ns: str, now: float) -> None:
        """Requeue tasks of `ns` whose lease expired; each stays its holder's (`lapsed`)
        until someone takes it."""
        for key, (deadline, token) in list(self.leases.items()):
            if key[0] != ns or deadline > now:
                continue
            del self.leases[key]
            record = self.records.get(key)
            if record is not None and record.status not in SETTLED_STATUSES:
                record.status = NEW
                record.updated_at = now
                self.lapsed[key] = token
                self._push(ns, record)

    def _hold(self, key: _Key, token: str) -> str | None:
        """Whether `token` still holds the task of `key` (fencing): "leased", "lapsed"
        (its lease expired and the task waits in its queue, taken by nobody since), or
        None when the lease is gone or another worker's."""
        lease = self.leases.get(key)
        if lease is not None:
            return "leased" if lease[1] == token else None
        return "lapsed" if self.lapsed.get(key) == token else None

    def _unhold(self, key: _Key, token: str) -> bool:
        """End `token`'s hold on the task of `key` (its lease, or its queue entry after
        the lease lapsed); False, changing nothing, when it holds it no more."""
        hold = self._hold(key, token)
        if hold == "leased":
            del self.leases[key]
        elif hold == "lapsed":
            del self.lapsed[key]
            record = self.records.get(key)
            if record is not None:
                self._unqueue(key[0], record.queue, record.uuid)
        return hold is not None

    # --- operations -----------------------------------------------------------------------
    def enqueue(self, ns: str, records: Sequence[TaskRecord]) -> None:
        """Store and queue records whose uuid is not known (idempotent by uuid)."""
        new = [stored(r) for r in records]  # fail before touching the store
        with self.lock:
            self._expire(time.time(), _SWEEP_BUDGET + len(new))
            for record in new:
                self._add_unknown(ns, record)
        self.queued.notify()

    def _add_unknown(self, ns: str, record: TaskRecord) -> None:
        """Store and queue `record` unless its uuid is known (enqueue is idempotent)."""
        key = (ns, record.uuid)
        expires = self.expires.get(key)
        if key not in self.records or (expires is not None and expires <= time.time()):
            self.records[key] = record  # unknown, or expired and not swept yet
            self.expires.pop(key, None)
            self._push(ns, record)

    def put(self, ns: str, records: Sequence[TaskRecord], ttl: float) -> None:
        new = [stored(r) for r in records]
        with self.lock:
            now = time.time()
            self._expire(now, _SWEEP_BUDGET + len(new))
            for record in new:
                key = (ns, record.uuid)
                if record.status in SETTLED_STATUSES:
                    self._settle(key, record, now + ttl)
                else:
                    self.records[key] = record
                    self.expires.pop(key, None)
        self.finished.notify()

    def get(self, ns: str, uuid: str) -> TaskRecord | None:
        with self.lock:
            now = time.time()
            self._expire(now, _SWEEP_BUDGET)
            key = (ns, uuid)
            record = self.records.get(key)
            if record is None or self.expires.get(key, now + 1) <= now:
                return None  # expired, not swept yet
            return copy_record(record)

    def take(self, ns: str, queue: str, limit: int, lease: float, worker_id: str) -> list[Delivery]:
        now = time.time()
        out: list[Delivery] = []
        with self.lock:
            self._recover(ns, now)
            self._expire(now, _SWEEP_BUDGET)
            delayed = self.delayed.get((ns, queue))
            while delayed and delayed[0][0] <= now:
                _eta, prio, seq, uuid = heapq.heappop(delayed)
                heapq.heappush(self.ready.setdefault((ns, queue), []), (prio, seq, uuid))
            heap = self.ready.get((ns, queue))
            while heap and len(out) < limit:
                _prio, _seq, uuid = heapq.heappop(heap)
                record = self.records.get((ns, uuid))
                if record is None or record.status != NEW:
                    continue  # cancelled, finished or expired while queued
                token = f"{worker_id}:{uuid_mod.uuid4().hex[:8]}"
                record.status = PROCESS
                record.updated_at = now
                record.attempts += 1
                self.lapsed.pop((ns, uuid), None)
                self.leases[(ns, uuid)] = (now + lease, token)
                out.append(Delivery(copy_record(record), token))
        return out

    def next_wakeup(self, ns: str, queue: str) -> float | None:
        """Seconds until a delayed task is due or a lease expires, if any."""
        with self.lock:
            now = time.time()
            times = [d for k, (d, _t) in self.leases.items() if k[0] == ns]
            delayed = self.delayed.get((ns, queue))
            if delayed:
                times.append(delayed[0][0])
        return max(0.0, min(times) - now) if times else None

    def complete(self, ns: str, completions: Sequence[Completion], ttl: float) -> None:
        finals = [(c, stored(c.record), [stored(f) for f in c.followups]) for c in completions]
        with self.lock:
            now = time.time()
            self._expire(now, _SWEEP_BUDGET + len(finals))
            for c, final, followups in finals:
                key = (ns, c.record.uuid)
                if not self._unhold(key, c.delivery.token):
                    continue  # leased again since, to someone else: theirs to finish
                self._settle(key, final, now + ttl)
                if c.dead_letter is not None:
                    letters = self.dead.setdefault(ns, {})
                    letters.pop(final.uuid, None)  # newest last
                    letters[final.uuid] = DeadLetter(
                        final.uuid, final.queue, c.dead_letter, now, record=copy_record(final)
                    )
                for followup in followups:
                    self._add_unknown(ns, followup)
        self.finished.notify()
        self.queued.notify()

    def ack(self, ns: str, deliveries: Sequence[Delivery]) -> None:
        """Forget deliveries their token still holds: the lease, or the queue entry of
        one requeued since its lease expired. Records stay as they are."""
        with self.lock:
            for d in deliveries:
                self._unhold((ns, d.record.uuid), d.token)

    def extend(self, ns: str, deliveries: Sequence[Delivery], lease: float) -> None:
        """Renew the leases their token still holds; a lapsed one is taken back from its
        queue (nobody else took it)."""
        with self.lock:
            deadline = time.time() + lease
            for d in deliveries:
                key = (ns, d.record.uuid)
                hold = self._hold(key, d.token)
                if hold == "lapsed":
                    self._unhold(key, d.token)
                    record = self.records.get(key)
                    if record is None:
                        continue
                    record.status = PROCESS
                if hold is not None:
                    self.leases[key] = (deadline, d.token)

    def release(self, ns: str, deliveries: Sequence[Delivery]) -> None:
        """Give back the deliveries their token still holds, undoing their count."""
        with self.lock:
            now = time.time()
            for d in deliveries:
                key = (ns, d.record.uuid)
                hold = self._hold(key, d.token)
                if hold is None:
                    continue
                record = self.records.get(key)
                if hold == "lapsed":
                    del self.lapsed[key]  # queued already
                else:
                    del self.leases[key]
                    if record is not None and record.status not in SETTLED_STATUSES:
                        record.status = NEW
                        record.updated_at = now
                        self._push(ns, record)
                if record is not None:
                    record.attempts = max(0, record.attempts - 1)
        self.queued.notify()

    def cancel(self, ns: str, uuid: str, reason: str, ttl: float) -> TaskRecord | None:
        with self.lock:
            key = (ns, uuid)
            record = self.records.get(key)
            action = cancel_action(record.status) if record is not None else None
            if record is None or action is None:
                return None
            if action == "request":
                record.extra["cancel_requested"] = reason
                return copy_record(record)
            self.lapsed.pop(key, None)
            record.status = CANCEL
            record.updated_at = time.time()
            record.extra["cancel_reason"] = reason
            self._settle(key, record, record.updated_at + ttl)
            result = copy_record(record)
        self.finished.notify()
        return result

    def cancel_requests(self, ns: str, uuids: Sequence[str]) -> dict[str, str]:
        out = {}
        with self.lock:
            for uuid in uuids:
                record = self.records.get((ns, uuid))
                if record is not None and "cancel_requested" in record.extra:
                    out[uuid] = str(record.extra["cancel_requested"])
        return out

    def purge(self, ns: str) -> None:
        with self.lock:
            tables: tuple[dict[Any, Any], ...] = (
                self.records, self.ready, self.delayed, self.leases, self.lapsed, self.expires,
                self.workers,
            )  # fmt: skip
            for table in tables:
                for key in [k for k in table if k[0] == ns]:
                    del table[key]
            self.dead.pop(ns, None)
            self.paused.pop(ns, None)

    def maintain(self, ns: str, dead_ttl: float | None = None) -> None:
        """Upkeep: drop every expired record and worker, requeue expired leases of `ns`,
        and drop its dead letters older than `dead_ttl` seconds."""
        with self.lock:
            now = time.time()
            self._expire(now)
            self._recover(ns, now)
            for key in [k for k, (until, _) in self.workers.items() if until <= now]:
                del self.workers[key]
            letters = self.dead.get(ns)
            if letters and dead_ttl is not None:
                # oldest first: stop at the first one still young enough
                for uuid, letter in list(letters.items()):
                    if letter.dead_at + dead_ttl > now:
                        break
                    del letters[uuid]

    # --- dead letters ---------------------------------------------------------------------
    def dead_letters(self, ns: str, limit: int, offset: int) -> list[DeadLetter]:
        with self.lock:
            newest = list(reversed(self.dead.get(ns, {}).values()))[offset : offset + limit]
            return [
                dataclasses.replace(
                    d, record=copy_record(d.record) if d.record is not None else None
                )
                for d in newest
            ]

    def requeue_dead_letters(self, ns: str, uuids: Sequence[str] | None) -> int:
        """Queue dead letters again (those with a record); returns how many."""
        count = 0
        with self.lock:
            letters = self.dead.get(ns, {})
            now = time.time()
            for uuid in list(letters) if uuids is None else uuids:
                letter = letters.get(uuid)
                if letter is None or letter.record is None:
                    continue
                del letters[uuid]
                key = (ns, uuid)
                current = self.records.get(key)
                if current is not None and current.status not in SETTLED_STATUSES:
                    continue  # queued or running again already
                self.records[key] = requeued(letter.record, now)
                self.expires.pop(key, None)
                self._push(ns, self.records[key])
                count += 1
        if count:
            self.queued.notify()
        return count

    def purge_dead_letters(self, ns: str, uuids: Sequence[str] | None) -> int:
        with self.lock:
            letters = self.dead.get(ns, {})
            if uuids is None:
                count = len(letters)
                letters.clear()
                return count
            return sum(letters.pop(uuid, None) is not None for uuid in set(uuids))

    def stats(self, ns: str, queue: str) -> dict[str, int]:
        with self.lock:
            entries = {e[-1] for e in self.ready.get((ns, queue), ())}
            entries.update(e[-1] for e in self.delayed.get((ns, queue), ()))
            queued = 0
            for uuid in entries:
                record = self.records.get((ns, uuid))
                queued += record is not None and record.status == NEW
            leased = 0
            for key in self.leases:
                record = self.records.get(key) if key[0] == ns else None
                leased += record is not None and record.queue == queue
            return {"queued": queued, "leased": leased}

    def register_worker(self, ns: str, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        with self.lock:
            self.workers[(ns, worker_id)] = (time.time() + ttl, dict(info))

    def unregister_worker(self, ns: str, worker_id: str) -> None:
        with self.lock:
            self.workers.pop((ns, worker_id), None)

    def live_workers(self, ns: str) -> list[dict[str, Any]]:
        now = time.time()
        with self.lock:
            return [
                dict(info, worker_id=k[1])
                for k, (deadline, info) in self.workers.items()
                if k[0] == ns and deadline > now
            ]


_STORES: dict[str, MemoryStore] = {}
_STORES_LOCK = threading.Lock()


def store_for(url: str) -> MemoryStore:
    """The process's store for `memory://name` (`memory://` is `memory://default`)."""
    name = url.split("://", 1)[1].strip("/") or "default"
    with _STORES_LOCK:
        return _STORES.setdefault(name, MemoryStore())


__all__ = ["MemoryStore", "copy_record", "store_for", "stored"]
