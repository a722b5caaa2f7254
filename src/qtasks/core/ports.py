"""The contracts a storage engine implements, and the capabilities it declares.

```
  Broker         enqueue · fetch (lease) · ack · extend · release · [nack, recover_expired,
                 purge, stats, close]
  ResultStore    put · get · wait_final · [wait_progress, expire, purge, close]
  Backend        Broker + ResultStore that also completes atomically: `complete()` writes
                 the final record, removes the lease and enqueues follow-ups in one step
                 (memory, SQLite, Redis). A broker that is only a broker is paired with a
                 result store into a Backend (`qtasks.backends.paired`): final record
                 first, then the ack, and a redelivered task whose record is already final
                 is acknowledged without running again.

  optional, declared in `capabilities`:
  CancelQueued   cancel · cancel_requests
  DeadLetters    dead_letters · requeue_dead_letters · purge_dead_letters
  SharedSettings settings_set · settings_get · settings_get_all · settings_get_match
  WorkerRegistry register_worker · unregister_worker · live_workers
  Inspection     list_tasks · count_tasks · purge_tasks · pause_queue · resume_queue ·
                 paused_queues (operating the app: `qtasks.core.inspection`)
  TransactionalEnqueue  enqueue_in (through a database connection the caller holds)
  SchemaMigrations      schema_version_sync · migrate_sync · schema_script (SQL databases)
  Coordination   acquire_lease · release_lease · lease_holder · put_document ·
                 get_document · list_documents · delete_document (the scheduler's leader
                 lease and its stored schedules)
```

Delivery is at-least-once: `fetch` leases tasks to a worker for `lease` seconds and marks
them `process`; `extend` renews the leases of running tasks; a lease that expires (the
worker died) makes the task fetchable again by any worker. `extend` and `release` have no
defaults: a backend that silently ignored them would run tasks twice.

What every backend guarantees, checked by the contract tests:

- **Fencing.** Each fetch hands out a new lease token. `ack`, `complete`, `extend` and
  `release` act only on a delivery still leased with its token: once a lease expired
  and another worker took the task, the first holder's calls change nothing (not the
  record, not the queue, not the new lease). An expired lease nobody took yet is still
  the holder's.
- **Decode before you take.** `fetch` never removes a task from its queue in a step that
  can fail afterwards. A stored entry that cannot be decoded is not delivered: it is
  dead-lettered with its raw text kept (`DeadLetters`), its record (where one can be
  written) becomes `error` naming the fault, and the good tasks fetched with it are
  delivered as usual.
- **Delivery count.** `TaskRecord.attempts` counts the fetches of a task that were not
  given back: `release` (and `nack`) undo the count of the delivery they return, a lease
  that expires does not. The engine reads it to find tasks whose worker died with them.

Client calls come in two forms: the async methods, and `*_sync` twins for the sync app.
A backend with a sync driver implements the twins directly; `qtasks.backends.base`
gives the others twins that run the async method on the process's one portal thread.
The worker renews leases (and its registration) from a thread of its own through
`extend_sync` (and `register_worker_sync`), so a task blocking its event loop does not
cost it the leases of its tasks.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from qtasks.core.inspection import Inspection
from qtasks.core.models import (
    DEFAULT_QUEUE,
    Completion,
    DeadLetter,
    Delivery,
    TaskRecord,
    progress_moved,
)
from qtasks.core.steps import Call, Flow, run_async, run_sync
from qtasks.core.urls import redact
from qtasks.exc import CapabilityError

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.log import Log

#: Seconds between two reads of a record by the default `ResultStore.wait_progress`.
PROGRESS_READ_EVERY = 0.5


def _read_progress(uuid: str, seen: Any, timeout: float) -> Flow[TaskRecord | None]:
    """The default `wait_progress` (both twins): read, then await the end a while."""
    deadline = time.monotonic() + timeout
    while True:
        record: TaskRecord | None = yield Call("get", (uuid,))
        if progress_moved(record, seen):
            return record
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ended: TaskRecord | None = yield Call(
            "wait_final", (uuid, min(PROGRESS_READ_EVERY, remaining))
        )
        if ended is not None:
            return ended


@dataclasses.dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do beyond the required contract. The engine and the app read
    these flags instead of probing for methods."""

    #: Lower priority values are fetched first across the whole queue.
    priorities: bool = False
    #: Records with an `eta` are held back until then by the backend itself.
    delays: bool = False
    #: Waiting fetches and `wait_final` are woken by the server (no polling).
    push: bool = False
    #: Final record and ack are written in one step (`Backend.complete`).
    atomic_completion: bool = False
    #: Implements `CancelQueued`.
    cancel_queued: bool = False
    #: Implements `DeadLetters`.
    dead_letters: bool = False
    #: Implements `SharedSettings` (QTasks 1.7's global config).
    shared_settings: bool = False
    #: Implements `WorkerRegistry`.
    worker_registry: bool = False
    #: Implements `TransactionalEnqueue`.
    transactional_enqueue: bool = False
    #: Implements `Inspection` (listing, counts, purge by queue or status, pausing).
    inspection: bool = False
    #: Leases are held by the consumer's connection instead of timed (RabbitMQ): a
    #: delivery stays leased while its holder's channel is open, whatever `lease` said,
    #: and comes back to the queue at once when that channel closes. There is no expired
    #: lease to fence, and `extend` has nothing to renew.
    connection_leases: bool = False
    #: Implements `Coordination` (named leases, small shared documents).
    coordination: bool = False

    def require(self, name: str, backend: object) -> None:
        """Raise `CapabilityError` unless the capability `name` is present."""
        if not getattr(self, name):
            raise CapabilityError(
                f"{type(backend).__name__} does not support {name.replace('_', ' ')}"
            )


class _Component(ABC):  # noqa: B024 - a shared base, its subclasses declare the abstracts
    """Construction shared by every port: the URL, the app's namespace, config and log."""

    #: URL schemes this class serves.
    schemes: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, url: str, *, namespace: str, config: QueueConfig, log: Log) -> None:
        self.url = url
        self.namespace = namespace
        self.config = config
        self.log = log

    @property
    def pushes(self) -> bool:
        """True when waiting is pushed by the server (the `push` capability)."""
        return self.capabilities.push

    async def close(self) -> None:
        """Release connections; the object may be used again afterwards (it reconnects)."""

    def describe(self) -> str:
        """Where the data lives, for logs (no credentials)."""
        return redact(self.url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r}, namespace={self.namespace!r})"


class Broker(_Component):
    """Queues, leases and acknowledgements."""

    @abstractmethod
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        """Queue the records, each atomically. Idempotent by uuid: a record whose uuid is
        already known is not queued again."""

    @abstractmethod
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        """Lease up to `limit` due tasks (lowest priority value first, FIFO within a
        priority, where the `priorities` capability is declared), mark them `process`, and
        return them. When none is due, wait up to `wait` seconds for one.

        Must be cancel-safe: a worker cancels a waiting fetch when it stops, and that must
        not leave tasks leased to nobody."""

    @abstractmethod
    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Forget finished deliveries: remove their queue entries and leases. Their records
        are left as they are."""

    @abstractmethod
    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        """Renew the leases of running tasks for another `lease` seconds."""

    @abstractmethod
    async def release(self, deliveries: Sequence[Delivery]) -> None:
        """Give leased tasks back to the queue now (graceful shutdown)."""

    async def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Give deliveries back to be delivered again after `delay` seconds."""
        if delay > 0:
            self.capabilities.require("delays", self)
        await self.release(deliveries)

    async def recover_expired(self, queue: str) -> None:
        """Periodic upkeep, called by each worker every few seconds: requeue tasks whose
        lease expired (where `fetch` does not already) and drop expired records."""

    async def purge(self) -> None:
        """Delete every queue entry (and record, for a backend) of this namespace."""
        raise CapabilityError(f"{type(self).__name__} cannot purge")

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        """Counts by state: at least `queued` and `leased`."""
        return {}

    # --- sync twins used by the sync app ---------------------------------------------------
    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        raise NotImplementedError

    def purge_sync(self) -> None:
        raise NotImplementedError

    def close_sync(self) -> None:
        raise NotImplementedError

    # --- the worker's lease thread -----------------------------------------------------------
    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        """`extend`, called from the worker's lease thread: it must not need the worker's
        event loop (a task that blocks that loop must not cost the leases of the tasks it
        runs) and must be safe to call from a thread while that loop uses the backend,
        so it works on a connection of its own. Fenced like `extend`: deliveries acked,
        released or leased again to another worker meanwhile are left alone. Raises
        `NotImplementedError` where there is none; the worker then renews on its loop."""
        raise NotImplementedError


class ResultStore(_Component):
    """Task records: status, result, traceback, with a time to live once final."""

    @abstractmethod
    async def put(self, records: Sequence[TaskRecord]) -> None:
        """Store (insert or replace) records; final ones expire after `result_ttl`."""

    @abstractmethod
    async def get(self, uuid: str) -> TaskRecord | None:
        """The stored record, or None when unknown or expired."""

    @abstractmethod
    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        """Wait until the record is final (or `retry`); None when unknown or timed out."""

    async def wait_progress(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        """Wait until the record is settled or reports a progress other than `seen` (its
        `extra["progress"]` as the caller last saw it, None before any): the record
        then; None when unknown or after `timeout` seconds. This default reads it every
        `PROGRESS_READ_EVERY` s; the built-in stores are woken by the write instead."""
        flow = _read_progress(uuid, seen, timeout)
        return await run_async(flow, lambda call: getattr(self, call.method)(*call.args))

    async def expire(self) -> None:
        """Drop records whose time to live is over (where the store does not itself)."""

    async def purge(self) -> None:
        """Delete every record of this namespace."""
        raise CapabilityError(f"{type(self).__name__} cannot purge")

    def get_sync(self, uuid: str) -> TaskRecord | None:
        raise NotImplementedError

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        raise NotImplementedError

    def wait_progress_sync(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        """`wait_progress` for sync callers (the same default, on the `_sync` twins)."""
        flow = _read_progress(uuid, seen, timeout)
        return run_sync(flow, lambda call: getattr(self, f"{call.method}_sync")(*call.args))

    def purge_sync(self) -> None:
        raise NotImplementedError

    def close_sync(self) -> None:
        raise NotImplementedError


class Backend(Broker, ResultStore):
    """Broker and result store of one URL, completing atomically; what the engine and
    the app talk to."""

    @abstractmethod
    async def complete(self, completions: Sequence[Completion]) -> None:
        """For each completion: write the final record, remove its queue entry and lease,
        and enqueue its follow-ups, so that no crash leaves one without the other."""

    async def purge(self) -> None:
        raise CapabilityError(f"{type(self).__name__} cannot purge")


class CancelQueued(ABC):
    """Cancel a task before or while it runs."""

    @abstractmethod
    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        """A queued task ends now (status `cancel`, extra `cancel_reason`); for a running
        one, record the request (extra `cancel_requested`) for its worker to act on and
        return the record still in `process`. None when unknown or already final."""

    @abstractmethod
    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        """Of these running tasks, those whose cancellation was requested: uuid -> reason."""

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        raise NotImplementedError


class DeadLetters(ABC):
    """Tasks taken out of delivery (`DeadLetter`): those the engine completed with
    `Completion.dead_letter`, and stored entries the backend could not decode."""

    @abstractmethod
    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """The dead letters of this namespace, newest first, `limit` from `offset`."""

    @abstractmethod
    async def requeue_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        """Queue these dead letters (None = all) again under their own uuid: status `new`,
        `attempts` 0, the `dead_letter` extra removed. Entries without a record (not
        decodable) cannot be requeued and stay listed. Returns how many were queued."""

    @abstractmethod
    async def purge_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        """Forget these dead letters (None = all); their records stay until they expire.
        Returns how many were removed."""

    async def bury(self, completions: Sequence[Completion]) -> None:
        """For a broker that is only a broker (paired with a result store, which holds
        the `error` records already): list the tasks of these completions, each with
        `Completion.dead_letter` set, as dead letters and forget their deliveries.
        A `Backend` does this in `complete()` instead."""
        raise NotImplementedError

    def dead_letters_sync(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        raise NotImplementedError

    def requeue_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        raise NotImplementedError

    def purge_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        raise NotImplementedError


class SharedSettings(ABC):
    """Settings every process of the app sees (QTasks 1.7's global config): hashes of
    string fields under a name, optionally expiring."""

    @abstractmethod
    async def settings_set(self, name: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Set field `key` of hash `name`; the hash expires after `ttl` seconds if given."""

    @abstractmethod
    async def settings_get(self, key: str, name: str) -> str | None:
        """Field `name` of hash `key`."""

    @abstractmethod
    async def settings_get_all(self, key: str) -> dict[str, str]:
        """Every field of hash `key`."""

    @abstractmethod
    async def settings_get_match(self, match: str) -> dict[str, dict[str, str]]:
        """Every hash whose name matches the glob `match`."""

    def settings_set_sync(self, name: str, key: str, value: Any, ttl: float | None = None) -> None:
        raise NotImplementedError

    def settings_get_sync(self, key: str, name: str) -> str | None:
        raise NotImplementedError

    def settings_get_all_sync(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def settings_get_match_sync(self, match: str) -> dict[str, dict[str, str]]:
        raise NotImplementedError


class WorkerRegistry(ABC):
    """Live workers, each registered with a time to live its heartbeat refreshes."""

    @abstractmethod
    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        """Record (or refresh) a live worker for `ttl` seconds."""

    @abstractmethod
    async def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""

    @abstractmethod
    async def live_workers(self) -> list[dict[str, Any]]:
        """Workers whose registration has not expired."""

    def register_worker_sync(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        """`register_worker` from the worker's lease thread (see `Broker.extend_sync`)."""
        raise NotImplementedError

    def live_workers_sync(self) -> list[dict[str, Any]]:
        raise NotImplementedError


class TransactionalEnqueue(ABC):
    """Enqueue through a database connection the caller holds, inside the caller's open
    transaction: the tasks exist exactly when that transaction commits, and not at all
    when it rolls back."""

    @abstractmethod
    async def enqueue_in(self, connection: Any, records: Sequence[TaskRecord]) -> None:
        """`enqueue` through `connection` (the driver's async or sync connection), without
        committing. `ConfigError` for a connection the backend cannot write through."""

    def enqueue_in_sync(self, connection: Any, records: Sequence[TaskRecord]) -> None:
        raise NotImplementedError


class SchemaMigrations(ABC):
    """A backend whose tables are versioned: created and migrated on first use, or by a
    team that runs its migrations itself (`qtasks db upgrade`)."""

    @abstractmethod
    def schema_version_sync(self) -> tuple[int, int]:
        """(applied version, latest version this qtasks knows); 0 applied: none yet."""

    @abstractmethod
    def migrate_sync(self) -> list[int]:
        """Apply the migrations not applied yet; returns their versions (none: current)."""

    @abstractmethod
    def schema_script(self) -> str:
        """The whole latest schema as one SQL script."""


class Coordination(ABC):
    """What processes of one app agree on through the backend: named leases (one holder
    at a time, expiring unless renewed) and small JSON documents grouped in collections.
    The scheduler keeps its leader lease and its schedules here.

    Lease times are decided by the backend's clock where it has one (Redis, PostgreSQL);
    elsewhere by the clock of the machine holding the data (memory, SQLite) or of the
    caller (NATS). Documents are JSON objects (`dict[str, Any]` of JSON values)."""

    @abstractmethod
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> float | None:
        """Take lease `name` for `holder` for `ttl` seconds when it is free, expired or
        already `holder`'s (a renewal). Returns the deciding clock's time (epoch seconds)
        when `holder` holds it now, None when another holder does."""

    @abstractmethod
    async def release_lease(self, name: str, holder: str) -> None:
        """Give lease `name` up if `holder` holds it (another holder's is left alone)."""

    @abstractmethod
    async def lease_holder(self, name: str) -> str | None:
        """Who holds lease `name` now (not expired), or None."""

    @abstractmethod
    async def put_document(self, collection: str, key: str, document: dict[str, Any]) -> None:
        """Store (insert or replace) `document` under `key` in `collection`."""

    @abstractmethod
    async def get_document(self, collection: str, key: str) -> dict[str, Any] | None:
        """The document under `key`, or None."""

    @abstractmethod
    async def list_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every document of `collection`: key -> document."""

    @abstractmethod
    async def delete_document(self, collection: str, key: str) -> bool:
        """Forget the document under `key`; True when there was one."""


__all__ = [
    "PROGRESS_READ_EVERY",
    "Backend",
    "Broker",
    "CancelQueued",
    "Capabilities",
    "Coordination",
    "DeadLetters",
    "Inspection",
    "SchemaMigrations",
    "ResultStore",
    "SharedSettings",
    "TransactionalEnqueue",
    "WorkerRegistry",
    "redact",
]
