"""The QTasks 1.7 hooks a worker fires around a fetch and a finished task, each inside
the safety net: a hook that fails (anything but the worker's own cancellation) ends
the task at hand as an `error` naming it, and the worker goes on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from qtasks.core.models import Completion, Delivery
from qtasks.engine.task_run import cancelled_by_worker, crashed

if TYPE_CHECKING:
    from qtasks.engine.task_run import Worker

#: Hooks around a fetch; when none has a listener the worker skips them all.
PER_TASK_FETCH_HOOKS = frozenset(
    {"broker_add_worker", "worker_add", "broker_update", "storage_update", "storage_add_process"}
)
FETCH_HOOKS = PER_TASK_FETCH_HOOKS | {"worker_tasks_fetched"}
#: Hooks after a task finished; when none has a listener the worker skips them all.
FINISH_HOOKS = frozenset({"broker_remove_finished_task", "storage_remove_finished_task"})


async def on_fetched(worker: Worker, got: list[Delivery]) -> dict[str, Completion]:
    """Fire the fetch hooks for each delivery. Returns the `error` completions of the
    deliveries whose hooks failed, by uuid: those do not run."""
    hooks, backend = worker.hooks, worker.backend
    failed: dict[str, Completion] = {}
    if hooks.listens("worker_tasks_fetched"):  # once per fetch; a failing plugin is skipped
        await hooks.run("worker_tasks_fetched", worker=worker, deliveries=got)
    if hooks.active.isdisjoint(PER_TASK_FETCH_HOOKS):
        return failed
    for d in got:
        r = d.record
        task_kw: dict[str, Any] = dict(
            task_name=r.task_name,
            uuid=r.uuid,
            priority=r.priority,
            args=r.args,
            kw=r.kwargs,
            created_at=r.created_at,
        )
        update = {"status": "process", "uuid": r.uuid}
        try:
            await hooks.run("broker_add_worker", broker=backend, worker=worker, **task_kw)
            await hooks.run("worker_add", worker=worker, **task_kw)
            await hooks.run("broker_update", broker=backend, kw=update)
            await hooks.run("storage_update", storage=backend, kw=update)
            await hooks.run(
                "storage_add_process", storage=backend, task_data=r, priority=r.priority
            )
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) and cancelled_by_worker():
                raise
            failed[r.uuid] = crashed(worker, d, exc, "failed in a hook fired when fetched")
    return failed


async def on_finished(worker: Worker, completion: Completion) -> Completion:
    """Fire the finished-task hooks (they may change the final record); one that fails
    ends the task `error` naming it."""
    try:
        record = completion.delivery.record
        changes = await worker.hooks.run(
            "broker_remove_finished_task",
            broker=worker.backend,
            storage=worker.backend,
            model=completion.record,
        )
        model = changes.get("model")
        if isinstance(model, type(completion.record)):
            completion.record = model
        await worker.hooks.run(
            "storage_remove_finished_task",
            storage=worker.backend,
            task_broker=record,
            model=completion.record,
        )
        return completion
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError) and cancelled_by_worker():
            raise
        failed = crashed(worker, completion.delivery, exc, "failed in a finishing hook")
    failed.dead_letter = completion.dead_letter
    return failed


__all__ = ["FETCH_HOOKS", "FINISH_HOOKS", "PER_TASK_FETCH_HOOKS", "on_fetched", "on_finished"]
