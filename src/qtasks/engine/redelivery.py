"""Decisions the worker takes off its hot path: about redeliveries (a task whose
worker died or lost its lease, `attempts > 1`) and about final records the backend
cannot encode.

A redelivery past its `max_deliveries` is dead-lettered without running; one whose
cancellation was requested (left in its record, or known to the backend) ends
`cancel` without running. First deliveries never come here unless their record
carries extra fields, and then only for dictionary lookups.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol, cast

from qtasks.core import policy as outcome
from qtasks.core.models import Completion, Delivery
from qtasks.core.ports import CancelQueued
from qtasks.exc import SerializationError

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.log import Log
    from qtasks.core.ports import Backend
    from qtasks.core.runtime import Runtime


class Worker(Protocol):
    """What these decisions read of the worker (`engine.worker.Worker`)."""

    @property
    def app(self) -> Runtime: ...
    @property
    def config(self) -> QueueConfig: ...
    @property
    def backend(self) -> Backend: ...
    @property
    def log(self) -> Log: ...


def settled_at_fetch(worker: Worker, delivery: Delivery) -> Completion | None:
    """The outcome of a fetched delivery that must not run: dead-lettered past its
    `max_deliveries`, or cancelled by a request its dead worker never acted on (the
    record's extra `cancel_requested`). None: run it."""
    record = delivery.record
    try:
        if record.attempts > 1:
            spec = worker.app.find_task(record.task_name)
            limit = outcome.max_deliveries(spec, worker.config.max_deliveries)
            reason = outcome.dead_letter_reason(record, limit)
            if reason is not None:
                worker.log.error(
                    "Task %s (%s) %s: dead-lettered, not run again",
                    record.task_name,
                    record.uuid,
                    reason,
                )
                return Completion(
                    delivery, outcome.dead_lettered(record, reason), dead_letter=reason
                )
        requested = record.extra.get("cancel_requested")
        if requested is not None:
            return Completion(delivery, outcome.cancelled(record, str(requested)))
    except Exception as exc:  # a failed check must not stop the consumer: run it instead
        worker.log.error("Checking redelivered task %s failed: %r", record.uuid, exc)
    return None


async def cancel_requested(worker: Worker, delivery: Delivery) -> Completion | None:
    """Ask the backend (one round trip, `cancel_queued` backends) whether the
    cancellation of this redelivery was requested; its `cancel` outcome if so."""
    if not worker.backend.capabilities.cancel_queued:
        return None
    uuid = delivery.record.uuid
    try:
        requests = await cast(CancelQueued, worker.backend).cancel_requests([uuid])
    except Exception as exc:
        worker.log.error("Checking cancel requests failed: %r", exc)
        return None
    reason = requests.get(uuid)
    if reason is None:
        return None
    return Completion(delivery, outcome.cancelled(delivery.record, reason))


async def give_back(worker: Worker, delivery: Delivery) -> None:
    """Release a redelivery the worker will not run now (one runs apart at a time). A
    release gives the delivery count back, so waiting behind a task that kills its
    worker does not count against it."""
    try:
        await worker.backend.release([delivery])
    except Exception as exc:
        worker.log.error("Release failed (%r); its lease will expire instead", exc)


async def complete_each(worker: Worker, batch: list[Completion]) -> list[Completion]:
    """Complete one by one after a batch failed to encode; a completion that cannot be
    encoded is stored as an `error` record saying so. Returns the completions that
    failed for another reason (to retry with the next batch)."""
    left = []
    for completion in batch:
        try:
            try:
                await worker.backend.complete([completion])
            except SerializationError as exc:
                record = completion.record
                worker.log.error(
                    "The final record of task %s (%s) cannot be stored: %s",
                    record.task_name,
                    record.uuid,
                    outcome.describe_exception(exc),
                )
                fixed = Completion(
                    completion.delivery,
                    outcome.unstorable(record, exc),
                    dead_letter=completion.dead_letter,
                )
                await worker.backend.complete([fixed])
        except asyncio.CancelledError:
            raise
        except Exception:
            left.append(completion)
    return left


__all__ = ["cancel_requested", "complete_each", "give_back", "settled_at_fetch"]
