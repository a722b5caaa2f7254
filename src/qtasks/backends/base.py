"""The backend contract: what every broker+storage must do, and the shared records.

A backend is both the broker (queue, leases, acks) and the storage (task records,
results, TTL) for one URL. Workers talk to it only through the async methods; the
sync app calls the `*_sync` client methods, which default to running the async
method through a portal thread and are overridden where the driver has a sync API.

Delivery is at-least-once: `fetch` leases tasks to a worker for `lease` seconds and
marks them `process`; `extend` renews leases of running tasks; `complete` writes the
final record and removes the queue entry in one step; a lease that expires (the
worker died) makes the task fetchable again by any worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from qtasks.enums import FINAL_STATUSES

if TYPE_CHECKING:
    from qtasks._portal import Portal
    from qtasks.configs import QueueConfig
    from qtasks.logs import Logger

DEFAULT_QUEUE = "default"


@dataclasses.dataclass(slots=True)
class TaskRecord:
    """A task as stored: arguments, status, result and bookkeeping (epoch seconds)."""

    uuid: str
    task_name: str
    priority: int
    args: list[Any]
    kwargs: dict[str, Any]
    status: str
    created_at: float
    updated_at: float
    returning: Any = None
    traceback: str | None = None
    #: Other stored fields: cancel_reason, retry, retry_parent_uuid, retry_child_uuid...
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Do not run before this time (epoch seconds); None = now.
    eta: float | None = None
    #: How many times a worker has fetched it.
    attempts: int = 0
    queue: str = DEFAULT_QUEUE

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclasses.dataclass(slots=True)
class Delivery:
    """A task leased to a worker. `token` identifies the lease for ack/extend/release."""

    record: TaskRecord
    token: str


@dataclasses.dataclass(slots=True)
class Completion:
    """A finished delivery: the final record to store in place of the lease, and new
    tasks to enqueue in the same step (a retry's next attempt)."""

    delivery: Delivery
    record: TaskRecord
    followups: list[TaskRecord] = dataclasses.field(default_factory=list)


class Backend(ABC):
    """Broker and storage for one URL, isolated per `namespace` (the app name)."""

    #: URL schemes this class serves.
    schemes: ClassVar[tuple[str, ...]] = ()
    #: True when waiting/fetching is pushed by the server (no polling).
    pushes: ClassVar[bool] = False

    def __init__(self, url: str, *, namespace: str, config: QueueConfig, log: Logger) -> None:
        self.url = url
        self.namespace = namespace
        self.config = config
        self.log = log
        self._portal: Portal | None = None

    # --- client side ----------------------------------------------------------------------
    @abstractmethod
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        """Store the records and queue them, each atomically (all or nothing per record)."""

    @abstractmethod
    async def get(self, uuid: str) -> TaskRecord | None:
        """The stored record, or None when unknown or expired."""

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        """Wait until the record is final (or `retry`); None when unknown or timed out.

        The default polls adaptively (1 ms growing to 50 ms); pushing backends override.
        """
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            record = await self.get(uuid)
            if record is None:
                return None
            if record.is_final or record.status == "retry":
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 1.5, 0.05)

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        """Cancel a task. A queued one ends now (status `cancel`, extra `cancel_reason`);
        for a running one, record the request (extra `cancel_requested` = reason) for its
        worker to act on, and return the record still in `process`. None when the task
        is unknown or already final."""
        raise NotImplementedError(f"{type(self).__name__} cannot cancel tasks")

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        """Of these running tasks, those whose cancellation was requested: uuid -> reason."""
        return {}

    # --- worker side ----------------------------------------------------------------------
    @abstractmethod
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        """Lease up to `limit` due tasks (lowest priority value first, FIFO within a
        priority), mark them `process`, and return them. When none is due, wait up to
        `wait` seconds for one before returning an empty list.

        Must be cancel-safe: a worker cancels a waiting fetch when it stops, and a
        cancellation must not leave tasks leased to nobody (release them, or only
        take them in a step that cannot be interrupted)."""

    @abstractmethod
    async def complete(self, completions: Sequence[Completion]) -> None:
        """For each completion, atomically: write the final record, remove its queue
        entry and lease, and enqueue its follow-ups."""

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        """Renew the leases of running tasks for another `lease` seconds."""

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        """Give leased tasks back to the queue now (graceful shutdown)."""

    async def maintain(self, queue: str) -> None:
        """Periodic upkeep, called by each worker about every few seconds: requeue tasks
        whose lease expired (where `fetch` does not already) and drop expired records."""

    # --- administration ---------------------------------------------------------------------
    async def purge(self) -> None:
        """Delete every queue entry and record of this namespace."""
        raise NotImplementedError

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        """Counts by state: at least `queued` and `leased`."""
        return {}

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        """Record (or refresh) a live worker for `ttl` seconds."""

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""

    async def live_workers(self) -> list[dict[str, Any]]:
        """Workers whose registration has not expired."""
        return []

    async def close(self) -> None:
        """Release connections; the backend may be used again afterwards (it reconnects)."""

    # --- sync client twins (portal by default) -------------------------------------------------
    def _call(self, method: Any, *args: Any) -> Any:
        if self._portal is None:
            from qtasks._portal import Portal

            self._portal = Portal(f"qtasks-portal-{self.namespace}")
        return self._portal.call(method, *args)

    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._call(self.enqueue, records)

    def get_sync(self, uuid: str) -> TaskRecord | None:
        return self._call(self.get, uuid)

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        return self._call(self.wait_final, uuid, timeout)

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        return self._call(self.cancel, uuid, reason)

    def purge_sync(self) -> None:
        self._call(self.purge)

    def live_workers_sync(self) -> list[dict[str, Any]]:
        return self._call(self.live_workers)

    def close_sync(self) -> None:
        if self._portal is not None:
            self._call(self.close)
            self._portal.stop()
            self._portal = None

    def describe(self) -> str:
        """Where the data lives, for logs (no credentials)."""
        return redact(self.url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r}, namespace={self.namespace!r})"


def redact(url: str) -> str:
    """The URL with any password replaced, for logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


__all__ = [
    "DEFAULT_QUEUE",
    "Backend",
    "Completion",
    "Delivery",
    "TaskRecord",
    "redact",
]
