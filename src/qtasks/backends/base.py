"""What the built-in backends share on top of the contracts in `qtasks.core.ports`:
sync twins run on the process's one portal thread (for backends whose driver has no
sync API), and a polling `wait_final` for stores that cannot push.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from qtasks.backends.bridge import portal
from qtasks.core.inspection import TaskPage, TaskQuery
from qtasks.core.models import DEFAULT_QUEUE, Completion, DeadLetter, Delivery, TaskRecord
from qtasks.core.ports import (
    Backend as BackendPort,
)
from qtasks.core.ports import (
    CancelQueued,
    Capabilities,
    Inspection,
    SharedSettings,
    WorkerRegistry,
    redact,
)
from qtasks.core.status import CANCEL, ERROR, NEW, SETTLED_STATUSES, TaskStatus
from qtasks.core.steps import Flow, run_async, run_sync


class PortalTwins:
    """`*_sync` twins that run the async method on the process portal."""

    def _call(self, method: Any, *args: Any) -> Any:
        return portal().call(method, *args)

    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._call(self.enqueue, records)  # type: ignore[attr-defined]

    def put_sync(self, records: Sequence[TaskRecord]) -> None:
        self._call(self.put, records)  # type: ignore[attr-defined]

    def get_sync(self, uuid: str) -> TaskRecord | None:
        result: TaskRecord | None = self._call(self.get, uuid)  # type: ignore[attr-defined]
        return result

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        result: TaskRecord | None = self._call(self.wait_final, uuid, timeout)  # type: ignore[attr-defined]
        return result

    def wait_progress_sync(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        result: TaskRecord | None = self._call(self.wait_progress, uuid, seen, timeout)  # type: ignore[attr-defined]
        return result

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        result: TaskRecord | None = self._call(self.cancel, uuid, reason)  # type: ignore[attr-defined]
        return result

    def purge_sync(self) -> None:
        self._call(self.purge)  # type: ignore[attr-defined]

    def live_workers_sync(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(self.live_workers)  # type: ignore[attr-defined]
        return result

    # The inspection port (`core.ports.Inspection`).
    def list_tasks_sync(self, query: TaskQuery) -> TaskPage:
        result: TaskPage = self._call(self.list_tasks, query)  # type: ignore[attr-defined]
        return result

    def count_tasks_sync(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._call(self.count_tasks)  # type: ignore[attr-defined]
        return result

    def purge_tasks_sync(self, queue: str | None = None, status: str | None = None) -> int:
        result: int = self._call(self.purge_tasks, queue, status)  # type: ignore[attr-defined]
        return result

    def pause_queue_sync(self, queue: str) -> None:
        self._call(self.pause_queue, queue)  # type: ignore[attr-defined]

    def resume_queue_sync(self, queue: str) -> None:
        self._call(self.resume_queue, queue)  # type: ignore[attr-defined]

    def paused_queues_sync(self) -> list[str]:
        result: list[str] = self._call(self.paused_queues)  # type: ignore[attr-defined]
        return result

    # The worker's lease thread: the portal loop, not the worker's, runs these.
    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        if deliveries:
            self._call(self.extend, deliveries, lease)  # type: ignore[attr-defined]

    def register_worker_sync(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        self._call(self.register_worker, worker_id, info, ttl)  # type: ignore[attr-defined]

    def close_sync(self) -> None:
        self._call(self.close)  # type: ignore[attr-defined]


async def poll_final(store: Any, uuid: str, timeout: float) -> TaskRecord | None:
    """Wait for a settled record by reading it adaptively (1 ms growing to 50 ms)."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        record = await store.get(uuid)
        if record is None or record.status in SETTLED_STATUSES:
            result: TaskRecord | None = record
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.05)


def requeued(record: TaskRecord, now: float) -> TaskRecord:
    """A dead letter's record made ready to run again under its own uuid: status `new`,
    no delivery counted, no result or traceback, the `dead_letter` extra removed."""
    extra = {k: v for k, v in record.extra.items() if k != "dead_letter"}
    return dataclasses.replace(
        record, status=NEW, attempts=0, returning=None, traceback=None, extra=extra,
        eta=None, updated_at=now,
    )  # fmt: skip


def undecodable(
    uuid: str, queue: str, fault: str, raw: str, now: float, **fields: Any
) -> tuple[DeadLetter, TaskRecord]:
    """For a stored entry that cannot be decoded (`fault` says what failed): its dead
    letter, keeping `raw`, and the `error` record written in its place. `fields` are the
    record fields that could still be read (task_name, priority, created_at)."""
    reason = f"undecodable stored task: {fault}"
    record = TaskRecord(
        uuid=uuid,
        task_name=str(fields.get("task_name") or "?"),
        priority=int(fields.get("priority") or 0),
        args=[],
        kwargs={},
        status=ERROR,
        created_at=float(fields.get("created_at") or now),
        updated_at=now,
        traceback=(
            f"qtasks could not decode this stored task ({fault}); it was not run. "
            "Its stored text is kept in the dead letters (app.dead_letters())."
        ),
        extra={"dead_letter": reason},
        queue=queue,
    )
    return DeadLetter(uuid, queue, reason, now, record=None, raw=raw), record


T = TypeVar("T")


class InspectionByPart(Inspection):
    """`Inspection` by another object, the one `_inspection()` gives (a pair's store);
    `purge_tasks` is left to the subclass."""

    def _inspection(self) -> Inspection:
        raise NotImplementedError

    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        return await self._inspection().list_tasks(query)

    def list_tasks_sync(self, query: TaskQuery) -> TaskPage:
        return self._inspection().list_tasks_sync(query)

    async def count_tasks(self) -> dict[str, dict[str, int]]:
        return await self._inspection().count_tasks()

    def count_tasks_sync(self) -> dict[str, dict[str, int]]:
        return self._inspection().count_tasks_sync()

    async def pause_queue(self, queue: str) -> None:
        await self._inspection().pause_queue(queue)

    def pause_queue_sync(self, queue: str) -> None:
        self._inspection().pause_queue_sync(queue)

    async def resume_queue(self, queue: str) -> None:
        await self._inspection().resume_queue(queue)

    def resume_queue_sync(self, queue: str) -> None:
        self._inspection().resume_queue_sync(queue)

    async def paused_queues(self) -> list[str]:
        return await self._inspection().paused_queues()

    def paused_queues_sync(self) -> list[str]:
        return self._inspection().paused_queues_sync()

    async def queue_paused(self, queue: str) -> bool:
        return await self._inspection().queue_paused(queue)


# --- purging part of a pair's tasks (`PairedBackend.purge_tasks`): steps (part, method,
# args) that the pair runs with its parts' async methods or their `_sync` twins.
#: Records read per page while purging queued tasks behind a broker.
_PURGE_PAGE = 500


def parts_sync(steps: Flow[T]) -> T:
    """Run `steps` of (part, method, args) with each part's `<method>_sync`."""
    return run_sync(steps, lambda step: getattr(step[0], step[1] + "_sync")(*step[2]))


async def parts_async(steps: Flow[T]) -> T:
    """Run `steps` of (part, method, args), awaiting each part's `method`."""

    async def perform(step: tuple[Any, str, tuple[Any, ...]]) -> Any:
        return await getattr(step[0], step[1])(*step[2])

    return await run_async(steps, perform)


def purge_both_steps(
    store: Inspection, broker: Inspection, queue: str | None, status: str | None
) -> Flow[int]:
    """The store's records, then the broker's copies (a broker that purges by filter)."""
    count: int = yield (store, "purge_tasks", (queue, status))
    yield (broker, "purge_tasks", (queue, status))
    return count


def purge_behind_broker_steps(
    inspector: Inspection, store: Any, queue: str | None, status: str | None
) -> Flow[int]:
    """Behind a broker that keeps its messages (RabbitMQ, NATS), where a message whose
    record is gone would run: records of the other statuses are deleted, queued ones
    become `cancel` (reason "purged", expiring like any final record) so a worker drops
    their messages unrun. Returns how many."""
    statuses = [status] if status is not None else [s.value for s in TaskStatus]
    count = 0
    for each in statuses:
        if each != NEW:
            count += yield (inspector, "purge_tasks", (queue, each))
    query = TaskQuery(status=NEW, queue=queue, limit=_PURGE_PAGE)
    while NEW in statuses:
        page = yield (inspector, "list_tasks", (query,))
        now = time.time()
        tombstones = [
            dataclasses.replace(
                r, status=CANCEL, updated_at=now, extra={**r.extra, "cancel_reason": "purged"}
            )
            for r in page.records
        ]
        if tombstones:
            yield (store, "put", (tombstones,))
        count += len(tombstones)
        if page.cursor is None:
            break
        query = dataclasses.replace(query, cursor=page.cursor)
    return count


class Backend(PortalTwins, BackendPort, CancelQueued, WorkerRegistry):
    """Base of the built-in backends: a `core.ports.Backend` that also cancels queued
    tasks and keeps a worker registry (each declares what it does in `capabilities`)."""

    capabilities = Capabilities(
        priorities=True,
        delays=True,
        atomic_completion=True,
        cancel_queued=True,
        worker_registry=True,
    )

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        return await poll_final(self, uuid, timeout)


__all__ = [
    "DEFAULT_QUEUE",
    "Backend",
    "CancelQueued",
    "InspectionByPart",
    "Capabilities",
    "Completion",
    "Delivery",
    "PortalTwins",
    "SharedSettings",
    "TaskRecord",
    "WorkerRegistry",
    "parts_async",
    "parts_sync",
    "poll_final",
    "purge_behind_broker_steps",
    "purge_both_steps",
    "redact",
    "requeued",
    "undecodable",
]
