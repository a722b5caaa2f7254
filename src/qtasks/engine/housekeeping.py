"""A worker's housekeeping beside its tasks: registration in the backend's worker
registry, the watch for `app.cancel()` requests, and the periodic upkeep (expired
leases recovered, finished records expired, the 1.7 upkeep hooks fired)."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, Protocol, cast

from qtasks.core.ports import CancelQueued, WorkerRegistry

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.hooks import HookRunner
    from qtasks.core.log import Log
    from qtasks.core.ports import Backend
    from qtasks.core.runtime import Runtime

#: Seconds between checks for `app.cancel()` requests while tasks run.
CANCEL_CHECK_INTERVAL = 0.25


class Worker(Protocol):
    """What the housekeeping reads of the worker (`engine.worker.Worker`)."""

    app: Runtime
    backend: Backend
    config: QueueConfig
    hooks: HookRunner
    log: Log
    queue: str
    concurrency: int
    worker_id: str
    started_at: float


def registration(worker: Worker) -> dict[str, Any]:
    """What the worker registry shows of this worker."""
    return {
        "app": worker.app.name,
        "queue": worker.queue,
        "pid": os.getpid(),
        "concurrency": worker.concurrency,
        "started": worker.started_at,
    }


async def register(worker: Worker) -> None:
    if not worker.backend.capabilities.worker_registry:
        return
    try:
        await cast(WorkerRegistry, worker.backend).register_worker(
            worker.worker_id, registration(worker), worker.config.lease_timeout
        )
    except Exception as exc:
        worker.log.error("Registering worker failed: %r", exc)


async def unregister(worker: Worker) -> None:
    if not worker.backend.capabilities.worker_registry:
        return
    try:
        await cast(WorkerRegistry, worker.backend).unregister_worker(worker.worker_id)
    except Exception as exc:
        worker.log.warning("Unregistering worker failed: %r", exc)


async def watch_cancels(
    worker: Worker, running: dict[str, asyncio.Task[None]], reasons: dict[str, str]
) -> None:
    """Cancel the running tasks (`running`: uuid -> task) that `app.cancel()` asked to
    stop from any process, noting each one's reason in `reasons`."""
    if not worker.backend.capabilities.cancel_queued:
        return
    while True:
        await asyncio.sleep(CANCEL_CHECK_INTERVAL)
        if not running:
            continue
        try:
            requests = await cast(CancelQueued, worker.backend).cancel_requests(list(running))
        except Exception as exc:
            worker.log.error("Checking cancel requests failed: %r", exc)
            continue
        for uuid, reason in requests.items():
            task = running.get(uuid)
            if task is not None and uuid not in reasons:
                reasons[uuid] = reason
                task.cancel()


async def upkeep(worker: Worker) -> None:
    interval = min(5.0, worker.config.lease_timeout / 2)
    hooks, backend = worker.hooks, worker.backend
    while True:
        try:
            # Not a hot path: a hook nobody listens to returns at once.
            await hooks.run("broker_running_older_tasks", broker=backend, worker=worker)
            await hooks.run("storage_running_older_tasks", storage=backend, worker=worker)
            await hooks.run("storage_delete_finished_tasks", storage=backend)
            await backend.recover_expired(worker.queue)
        except Exception as exc:
            worker.log.error("Upkeep failed: %r", exc)
        await asyncio.sleep(interval)
