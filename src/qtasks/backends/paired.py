"""`PairedBackend`: a broker and a separate result store made into one `Backend`.

```
  enqueue    store.put(new records)  ->  broker.enqueue          (skips known uuids)
  fetch      broker.fetch  ->  a delivery whose stored record is already settled is
             acknowledged, not returned  ->  the others carry the stored record (with
             the broker's status, attempts, time)  ->  store.put(them, now `process`)
  complete   store.put(final records + follow-ups)  FIRST  ->  broker: follow-ups + ack
  get, wait_final, put, expire      the store
  extend, release, nack, stats      the broker
  dead letters                      the broker's (where it has them: `DeadLetters`);
                                    a requeue makes the store's record new first
```

Completion is not atomic: a crash between the store write and the broker's ack leaves a
task whose record is final still leased. Its lease expires, the broker delivers it
again, and `fetch` sees the final record and acknowledges it without running it (first
enqueueing, idempotently, the retry attempt its record names, which the crash may have
kept from the broker). So a finished task never runs twice.

Fencing: the broker fences its own calls (`ack`, `extend`, `release`); before writing
the store, `complete`, `release` and `nack` check that the stored record is still the
delivery's (`process`, with the delivery count its fetch stored), so a worker whose
lease expired and was taken by another changes nothing. That check and the write are two
steps: a fetch landing between them is not fenced off (the broker's ack still is).

When the broker is itself a full `Backend` (memory, SQLite or Redis used as a broker
only), "follow-ups + ack" is its atomic `complete()`: that also gives its own copy of
the record its final status and time to live, instead of leaving it `process` for ever.
A broker that is only a `Broker` gets `enqueue(follow-ups)` and then `ack()`.

Dead letters live with the broker, which takes tasks out of delivery: a completion with
`dead_letter` stores its `error` record in the store, then goes to the broker's
`complete()`, which lists it. A fetched task whose stored record cannot be decoded is
not run: it is dead-lettered through the broker with the broker's copy of the task (its
arguments as enqueued), and its record in the store becomes `error` naming the fault.
The store's undecodable text is not kept (a result store is read through `get` only);
a requeue runs the broker's copy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qtasks.backends.base import (
    Backend,
    InspectionByPart,
    parts_async,
    parts_sync,
    purge_behind_broker_steps,
    purge_both_steps,
    requeued,
)
from qtasks.core.models import DEFAULT_QUEUE, Completion, DeadLetter, Delivery, TaskRecord
from qtasks.core.ports import Backend as BackendPort
from qtasks.core.ports import (
    Broker,
    CancelQueued,
    Capabilities,
    Coordination,
    DeadLetters,
    Inspection,
    ResultStore,
    WorkerRegistry,
)
from qtasks.core.status import ERROR, NEW, PROCESS, SETTLED_STATUSES
from qtasks.core.steps import Flow

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig


#: Dead letters read per call while a requeue looks for the records it makes new.
_PAGE = 500


class PairedBackend(InspectionByPart, Backend, DeadLetters, Coordination):
    """A `Backend` made of `broker` (queues, leases) and `store` (task records)."""

    def __init__(self, broker: Broker, store: ResultStore) -> None:
        self.broker, self.store = broker, store
        super().__init__(
            broker.url, namespace=broker.namespace, config=broker.config, log=broker.log
        )
        b, s = broker.capabilities, store.capabilities
        registry = _registry(broker) or _registry(store)
        self._registry = registry
        self._canceller = broker if b.cancel_queued and isinstance(broker, CancelQueued) else None
        self._dead = broker if b.dead_letters and isinstance(broker, DeadLetters) else None
        # Listing reads the store, which holds every record; so do the paused queues.
        self._inspector = store if s.inspection and isinstance(store, Inspection) else None
        # Leases and documents live with the records where the store keeps them.
        self._coordinator = _coordinator(store) or _coordinator(broker)
        # Per instance: what a pair can do depends on its parts.
        self.capabilities = Capabilities(  # type: ignore[misc]
            priorities=b.priorities,
            delays=b.delays,
            push=b.push and s.push,
            atomic_completion=False,
            cancel_queued=self._canceller is not None,
            dead_letters=self._dead is not None,
            shared_settings=False,
            worker_registry=registry is not None,
            connection_leases=b.connection_leases,
            inspection=self._inspector is not None,
            coordination=self._coordinator is not None,
        )

    @property
    def config(self) -> QueueConfig:
        return self.broker.config

    @config.setter
    def config(self, config: QueueConfig) -> None:
        """One config for both parts (an app hands its own to the backend it is given)."""
        self.broker.config = self.store.config = config

    def describe(self) -> str:
        return f"{self.broker.describe()} (results in {self.store.describe()})"

    # --- client side --------------------------------------------------------------------
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        new: list[TaskRecord] = []
        queue: list[TaskRecord] = []
        for record in records:
            known = await self.store.get(record.uuid)
            if known is None:
                new.append(record)
                queue.append(record)
            elif known.status == NEW:  # stored, perhaps never queued: the broker knows
                queue.append(record)
        if new:
            await self.store.put(new)  # first: a worker finds the record of what it fetches
        if queue:
            await self.broker.enqueue(queue)

    async def put(self, records: Sequence[TaskRecord]) -> None:
        await self.store.put(records)

    async def get(self, uuid: str) -> TaskRecord | None:
        return await self.store.get(uuid)

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        return await self.store.wait_final(uuid, timeout)

    async def wait_progress(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        return await self.store.wait_progress(uuid, seen, timeout)

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        if self._canceller is None:
            self.capabilities.require("cancel_queued", self)
        assert self._canceller is not None
        known = await self.store.get(uuid)
        if known is None or known.status in SETTLED_STATUSES:
            return None
        record = await self._canceller.cancel(uuid, reason)
        if record is not None:
            await self.store.put([record])
        return record

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        if self._canceller is None:
            return {}
        return await self._canceller.cancel_requests(uuids)

    # --- worker side --------------------------------------------------------------------
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        deadline = time.monotonic() + wait
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            got = await self.broker.fetch(queue, limit, lease, worker_id, remaining)
            if not got:
                return got
            live = await self._screen(got)
            if live or time.monotonic() >= deadline:
                return live

    async def _screen(self, got: list[Delivery]) -> list[Delivery]:
        """The deliveries to run: those whose stored record is settled already (completed
        before a crash kept the broker from hearing of it) are acknowledged instead. If
        our caller is cancelled meanwhile, the deliveries not acknowledged go back."""
        pending = list(got)
        try:
            live: list[Delivery] = []
            # The batch's records are read at once (one round trip on a network store).
            found = await asyncio.gather(*(self._stored(d.record.uuid) for d in got))
            for delivery, stored in zip(got, found, strict=True):
                leased = delivery.record
                if isinstance(stored, Exception):  # a stored record it cannot decode
                    await self._undecodable(delivery, stored)
                    pending.remove(delivery)
                elif stored is None:
                    leased.attempts = leased.attempts or 1
                    live.append(delivery)
                elif stored.status in SETTLED_STATUSES:
                    await self._redelivered(delivery, stored)
                    pending.remove(delivery)
                else:  # the store has the record; the broker, the delivery's bookkeeping
                    # A broker that cannot count deliveries reports 0: the store counts
                    # them (each fetch stores its count, a release gives it back).
                    stored.status = leased.status
                    stored.attempts = leased.attempts or stored.attempts + 1
                    stored.updated_at = leased.updated_at
                    live.append(Delivery(stored, delivery.token))
            if live:
                await self.store.put([d.record for d in live])
            return live
        except BaseException:
            if pending:
                await self.broker.release(pending)
            raise

    async def _stored(self, uuid: str) -> TaskRecord | Exception | None:
        """The stored record, or the error of one the store cannot decode."""
        try:
            return await self.store.get(uuid)
        except (ValueError, TypeError) as exc:
            return exc

    async def _undecodable(self, delivery: Delivery, exc: Exception) -> None:
        """Take a task whose stored record cannot be decoded out of delivery: its record
        becomes `error` naming the fault, and the broker dead-letters it (or, without
        dead letters, forgets the delivery)."""
        reason = f"undecodable stored task: {exc}"
        record = dataclasses.replace(
            delivery.record,
            status=ERROR,
            updated_at=time.time(),
            traceback=(
                f"qtasks could not decode this task's stored record ({exc}); it was not "
                "run. The broker's copy of the task is kept in the dead letters."
            ),
            extra={**delivery.record.extra, "dead_letter": reason},
        )
        await self.store.put([record])
        await self._settle([Completion(delivery, record, dead_letter=reason)])

    async def _redelivered(self, delivery: Delivery, stored: TaskRecord) -> None:
        followups = []
        child = stored.extra.get("retry_child_uuid")
        if child:
            record = await self.store.get(str(child))
            if record is not None and record.status == NEW:
                followups.append(record)
        # A task given up on whose broker did not hear of it yet is listed now.
        dead = stored.extra.get("dead_letter") if stored.status == ERROR else None
        await self._settle([Completion(delivery, stored, followups, dead_letter=dead)])

    async def _settle(self, completions: Sequence[Completion]) -> None:
        """The broker's side of completions: queue their follow-ups, forget the leases."""
        if isinstance(self.broker, BackendPort):
            await self.broker.complete(completions)
            return
        buried = [c for c in completions if c.dead_letter is not None]
        if buried and self._dead is not None:  # the broker lists them and forgets them
            await self._dead.bury(buried)
            completions = [c for c in completions if c.dead_letter is None]
        followups = [f for c in completions for f in c.followups]
        if followups:
            await self.broker.enqueue(followups)
        await self.broker.ack([c.delivery for c in completions])

    async def _holds(self, delivery: Delivery) -> bool:
        """Whether the stored record is still this delivery's: `process` with the count
        of its fetch (a later fetch by another worker counts one more)."""
        try:
            stored = await self.store.get(delivery.record.uuid)
        except (ValueError, TypeError):  # undecodable: the delivery's record replaces it
            return True
        if stored is None:
            return True
        return stored.status == PROCESS and stored.attempts == delivery.record.attempts

    async def complete(self, completions: Sequence[Completion]) -> None:
        held = await asyncio.gather(*(self._holds(c.delivery) for c in completions))
        completions = [c for c, ok in zip(completions, held, strict=True) if ok]
        if not completions:
            return
        records = [c.record for c in completions]
        await self.store.put(records + [f for c in completions for f in c.followups])
        await self._settle(completions)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        await self.broker.ack(deliveries)

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        await self.broker.extend(deliveries, lease)

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        held = [d for d in deliveries if await self._holds(d)]
        await self.broker.release(deliveries)
        await self._requeued(held)

    async def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        held = [d for d in deliveries if await self._holds(d)]
        await self.broker.nack(deliveries, delay)
        await self._requeued(held)

    async def _requeued(self, deliveries: Sequence[Delivery]) -> None:
        """The store's side of a release: the record is `new` again, its delivery not
        counted."""
        if deliveries:
            now = time.time()
            await self.store.put(
                [
                    dataclasses.replace(
                        d.record, status=NEW, updated_at=now, attempts=max(0, d.record.attempts - 1)
                    )
                    for d in deliveries
                ]
            )

    async def recover_expired(self, queue: str) -> None:
        await self.broker.recover_expired(queue)
        await self.store.expire()

    async def expire(self) -> None:
        await self.store.expire()

    # --- dead letters: the broker's ----------------------------------------------------
    def _letters(self) -> DeadLetters:
        if self._dead is None:
            self.capabilities.require("dead_letters", self)
        assert self._dead is not None
        return self._dead

    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return await self._letters().dead_letters(limit, offset)

    async def requeue_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        dead = self._letters()
        wanted = None if uuids is None else set(uuids)
        now, records, offset = time.time(), [], 0
        while True:  # the store's records are made new first: a worker reads them there
            page = await dead.dead_letters(_PAGE, offset)
            for letter in page:
                if letter.record is not None and (wanted is None or letter.uuid in wanted):
                    stored = await self.store.get(letter.uuid)
                    if stored is None or stored.status in SETTLED_STATUSES:
                        records.append(requeued(letter.record, now))
            if len(page) < _PAGE:
                break
            offset += _PAGE
        if records:
            await self.store.put(records)
        return await dead.requeue_dead_letters(uuids)

    async def purge_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        return await self._letters().purge_dead_letters(uuids)

    # --- inspection: the store's, and the broker's queue entries where it can purge them ---
    def _inspection(self) -> Inspection:
        if self._inspector is None:
            self.capabilities.require("inspection", self)
        assert self._inspector is not None
        return self._inspector

    async def purge_tasks(self, queue: str | None = None, status: str | None = None) -> int:
        """The store's records and the broker's entries (see `_purge_steps`)."""
        return await parts_async(self._purge_steps(queue, status))

    def purge_tasks_sync(self, queue: str | None = None, status: str | None = None) -> int:
        return parts_sync(self._purge_steps(queue, status))

    def _purge_steps(self, queue: str | None, status: str | None) -> Flow[int]:
        """Both parts where the broker purges by filter too; else the store's records,
        its queued ones kept as `cancel` (`base.purge_behind_broker_steps`)."""
        inspector, broker = self._inspection(), self.broker
        if broker.capabilities.inspection and isinstance(broker, Inspection):
            return purge_both_steps(inspector, broker, queue, status)
        return purge_behind_broker_steps(inspector, self.store, queue, status)

    # --- administration -----------------------------------------------------------------
    async def purge(self) -> None:
        await self.broker.purge()
        await self.store.purge()

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        return await self.broker.stats(queue)

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        if self._registry is not None:
            await self._registry.register_worker(worker_id, info, ttl)

    async def unregister_worker(self, worker_id: str) -> None:
        if self._registry is not None:
            await self._registry.unregister_worker(worker_id)

    async def live_workers(self) -> list[dict[str, Any]]:
        if self._registry is None:
            return []
        return await self._registry.live_workers()

    async def close(self) -> None:
        await self.broker.close()
        await self.store.close()

    # --- sync twins: direct where the parts have them, else through the portal -------------
    def get_sync(self, uuid: str) -> TaskRecord | None:
        return self.store.get_sync(uuid)

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        return self.store.wait_final_sync(uuid, timeout)

    def wait_progress_sync(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        return self.store.wait_progress_sync(uuid, seen, timeout)

    def purge_sync(self) -> None:
        self.broker.purge_sync()
        self.store.purge_sync()

    def live_workers_sync(self) -> list[dict[str, Any]]:
        if self._registry is None:
            return []
        return self._registry.live_workers_sync()

    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        self.broker.extend_sync(deliveries, lease)

    def register_worker_sync(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        if self._registry is not None:
            self._registry.register_worker_sync(worker_id, info, ttl)

    def close_sync(self) -> None:
        self.broker.close_sync()
        self.store.close_sync()

    def dead_letters_sync(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return self._letters().dead_letters_sync(limit, offset)

    def requeue_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        # Store and broker both take part: the async flow, on the portal.
        result: int = self._call(self.requeue_dead_letters, uuids)
        return result

    def purge_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        return self._letters().purge_dead_letters_sync(uuids)

    # --- coordination: the store's (or the broker's) -----------------------------------
    def _coordination(self) -> Coordination:
        if self._coordinator is None:
            self.capabilities.require("coordination", self)
        assert self._coordinator is not None
        return self._coordinator

    async def acquire_lease(self, name: str, holder: str, ttl: float) -> float | None:
        return await self._coordination().acquire_lease(name, holder, ttl)

    async def release_lease(self, name: str, holder: str) -> None:
        await self._coordination().release_lease(name, holder)

    async def lease_holder(self, name: str) -> str | None:
        return await self._coordination().lease_holder(name)

    async def put_document(self, collection: str, key: str, document: dict[str, Any]) -> None:
        await self._coordination().put_document(collection, key, document)

    async def get_document(self, collection: str, key: str) -> dict[str, Any] | None:
        return await self._coordination().get_document(collection, key)

    async def list_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        return await self._coordination().list_documents(collection)

    async def delete_document(self, collection: str, key: str) -> bool:
        return await self._coordination().delete_document(collection, key)


def _coordinator(part: Broker | ResultStore) -> Coordination | None:
    ok = part.capabilities.coordination and isinstance(part, Coordination)
    return part if ok else None  # type: ignore[return-value]


def _registry(part: Broker | ResultStore) -> WorkerRegistry | None:
    ok = part.capabilities.worker_registry and isinstance(part, WorkerRegistry)
    return part if ok else None  # type: ignore[return-value]


__all__ = ["PairedBackend"]
