"""The worker loop: fetch with a lease, run under a concurrency bound, heartbeat,
acknowledge in batches, release on shutdown.

All background jobs (consumers, heartbeat, acker, upkeep, running tasks) are owned
by the worker and awaited or cancelled in `run()`; none outlives it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid as uuid_mod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from qtasks.core.models import DEFAULT_QUEUE, Completion, Delivery
from qtasks.core.models import TaskSpec as TaskExecSchema
from qtasks.engine.task_run import run_delivery
from qtasks.engine.threads import TaskThreads
from qtasks.plugins.builtin import injectors_for
from qtasks.plugins.runner import PluginTable, has_plugins, trigger

if TYPE_CHECKING:
    from qtasks.app.base import BaseQueueTasks

#: Longest a consumer blocks in one fetch; bounds how fast it notices a stop.
FETCH_WAIT = 1.0
#: Seconds between checks for `app.cancel()` requests while tasks run.
CANCEL_CHECK_INTERVAL = 0.25


class Worker:
    def __init__(
        self,
        app: BaseQueueTasks,
        *,
        queue: str = DEFAULT_QUEUE,
        concurrency: int | None = None,
        consumers: int = 1,
    ) -> None:
        self.app = app
        self.backend = app.backend
        self.config = app.config
        self.queue = queue
        self.concurrency = concurrency or app.config.max_tasks_process
        self.consumers = max(1, consumers)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid_mod.uuid4().hex[:6]}"
        self.log = app.log.with_subname("Worker")
        self.executor_log = app.log.with_subname("TaskExecutor")  # one for every task
        self._busy = 0  # running + reserved by fetches in flight
        self._slot_freed = asyncio.Event()
        self._running: dict[asyncio.Task[None], Delivery] = {}
        self._unacked: dict[str, Delivery] = {}  # uuid -> delivery still leased
        self._acks: list[Completion] = []
        self._acking: list[Completion] = []  # the batch `complete()` is storing now
        self._ack_ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self.pool: TaskThreads | None = None
        self.plugins: PluginTable = app._component_plugins["worker"]
        self._by_uuid: dict[str, asyncio.Task[None]] = {}
        self._cancel_reasons: dict[str, str] = {}
        self._executor_plugins: dict[str, PluginTable] = {}
        self.executed = 0

    @property
    def name(self) -> str:
        return self.app.name

    def executor_plugins(self, schema: TaskExecSchema) -> PluginTable:
        """The worker's plugins plus the built-in argument injectors this task needs
        (Pydantic models, Depends, State), worked out once per task."""
        table = self._executor_plugins.get(schema.name)
        if table is None:
            injectors = injectors_for(schema)
            if not injectors:
                table = self.plugins
            else:
                table = {k: list(v) for k, v in self.plugins.items()}
                ahead: dict[str, list[Any]] = {}
                for trigger_name, plugin in injectors:  # built-ins first, in their order
                    ahead.setdefault(trigger_name, []).append(plugin)
                for trigger_name, plugins in ahead.items():
                    table[trigger_name] = [*plugins, *table.get(trigger_name, [])]
            self._executor_plugins[schema.name] = table
        return table

    # --- component triggers around fetch and ack (only when someone listens) -------------------
    @property
    def _hooks_fetch(self) -> bool:
        tables = self.app._component_plugins
        return bool(tables["broker"] or tables["storage"] or self.plugins)

    @property
    def _hooks_finish(self) -> bool:
        tables = self.app._component_plugins
        return bool(tables["broker"] or tables["storage"])

    async def _on_fetched(self, got: list[Delivery]) -> None:
        tables, log = self.app._component_plugins, self.log
        broker, storage = tables["broker"], tables["storage"]
        for d in got:
            r = d.record
            task_kw = dict(
                task_name=r.task_name,
                uuid=r.uuid,
                priority=r.priority,
                args=r.args,
                kw=r.kwargs,
                created_at=r.created_at,
            )
            if has_plugins(broker, "broker_add_worker"):
                await trigger(
                    broker, "broker_add_worker", log, broker=self.backend, worker=self, **task_kw
                )
            if has_plugins(self.plugins, "worker_add"):
                await trigger(self.plugins, "worker_add", log, worker=self, **task_kw)
            update = {"status": "process", "uuid": r.uuid}
            if has_plugins(broker, "broker_update"):
                await trigger(broker, "broker_update", log, broker=self.backend, kw=update)
            if has_plugins(storage, "storage_update"):
                await trigger(storage, "storage_update", log, storage=self.backend, kw=update)
            if has_plugins(storage, "storage_add_process"):
                await trigger(
                    storage,
                    "storage_add_process",
                    log,
                    storage=self.backend,
                    task_data=r,
                    priority=r.priority,
                )

    async def _on_finished(self, completion: Completion) -> None:
        tables, log = self.app._component_plugins, self.log
        record = completion.delivery.record
        if has_plugins(tables["broker"], "broker_remove_finished_task"):
            changes = await trigger(
                tables["broker"],
                "broker_remove_finished_task",
                log,
                broker=self.backend,
                storage=self.backend,
                model=completion.record,
            )
            model = changes.get("model")
            if isinstance(model, type(completion.record)):
                completion.record = model
        if has_plugins(tables["storage"], "storage_remove_finished_task"):
            await trigger(
                tables["storage"],
                "storage_remove_finished_task",
                log,
                storage=self.backend,
                task_broker=record,
                model=completion.record,
            )

    def cancel_reason(self, uuid: str) -> str | None:
        """Why a running task was cancelled through `app.cancel()`, if it was."""
        return self._cancel_reasons.get(uuid)

    # --- public --------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop fetching; `run()` then drains and returns."""
        self._stopping.set()

    async def run(self, ready: Callable[[], Any] | None = None) -> None:
        self.pool = TaskThreads(self.concurrency)
        if has_plugins(self.plugins, "worker_start"):
            await trigger(self.plugins, "worker_start", self.log, worker=self)
        helpers = [
            asyncio.ensure_future(self._heartbeat()),
            asyncio.ensure_future(self._acker()),
            asyncio.ensure_future(self._upkeep()),
            asyncio.ensure_future(self._watch_cancels()),
        ]
        consumers = [asyncio.ensure_future(self._consume(n)) for n in range(self.consumers)]
        await self._register()
        for n in range(self.consumers):
            await self.app.events.fire("worker_running", worker=self, number=n)
        if ready is not None:
            ready()
        try:
            await asyncio.gather(*consumers)
        finally:
            for task in consumers:
                task.cancel()
            await asyncio.gather(*consumers, return_exceptions=True)
            await self._drain()
            for n in range(self.consumers):
                await self.app.events.fire("worker_stopping", worker=self, number=n)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._flush_acks(final=True)
            await self._unregister()
            if has_plugins(self.plugins, "worker_stop"):
                await trigger(self.plugins, "worker_stop", self.log, worker=self)
            self.pool.shutdown(wait=False, cancel_futures=True)

    # --- consuming -----------------------------------------------------------------------
    async def _consume(self, number: int) -> None:
        lease = self.config.lease_timeout
        broker_plugins = self.app._component_plugins["broker"]
        if has_plugins(broker_plugins, "broker_listen_start"):
            await trigger(
                broker_plugins, "broker_listen_start", self.log, broker=self.backend, worker=self
            )
        while not self._stopping.is_set():
            free = self.concurrency - self._busy
            if free <= 0:
                self._slot_freed.clear()
                await _first(self._slot_freed.wait(), self._stopping.wait())
                continue
            self._busy += free
            try:
                got = await self._fetch(free, lease)
            finally:
                self._busy -= free
            if self._stopping.is_set() and got:
                await self.backend.release(got)
                break
            if got and self._hooks_fetch:
                await self._on_fetched(got)
            for delivery in got:
                self._busy += 1
                self._unacked[delivery.record.uuid] = delivery
                task = asyncio.ensure_future(self._execute(delivery))
                self._running[task] = delivery
                self._by_uuid[delivery.record.uuid] = task

    async def _fetch(self, limit: int, lease: float) -> list[Delivery]:
        fetch = asyncio.ensure_future(
            self.backend.fetch(self.queue, limit, lease, self.worker_id, FETCH_WAIT)
        )
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not fetch.done():  # stopping: backends' fetch is cancel-safe
            fetch.cancel()
            await asyncio.gather(fetch, return_exceptions=True)
            return []
        try:
            return fetch.result()
        except Exception as exc:
            self.log.error(f"Fetching from {self.backend!r} failed: {exc!r}; retrying")
            await _first(asyncio.sleep(1.0), self._stopping.wait())
            return []

    async def _execute(self, delivery: Delivery) -> None:
        current = asyncio.current_task()
        uuid = delivery.record.uuid
        try:
            completion = await run_delivery(self, delivery)
            if self._hooks_finish:
                await self._on_finished(completion)
            self.executed += 1
            self._acks.append(completion)
            self._ack_ready.set()
        finally:
            self._busy -= 1
            self._slot_freed.set()
            self._by_uuid.pop(uuid, None)
            self._cancel_reasons.pop(uuid, None)
            if current is not None:
                self._running.pop(current, None)

    # --- acknowledging -------------------------------------------------------------------
    async def _acker(self) -> None:
        while True:
            await self._ack_ready.wait()
            # One more turn of the loop lets tasks finishing in the same tick join this
            # batch (fewer backend round trips, no added latency).
            await asyncio.sleep(0)
            self._ack_ready.clear()
            await self._flush_acks()

    async def _flush_acks(self, final: bool = False) -> None:
        delay = 0.1
        while self._acks:
            batch, self._acks = self._acks, []
            self._acking = batch
            try:
                await self.backend.complete(batch)
            except asyncio.CancelledError:
                self._acks[:0] = batch  # maybe not stored: the final flush stores it
                raise
            except Exception as exc:
                # Nothing is lost: the batch goes back, leases stay extended meanwhile,
                # and if this process dies the tasks are redelivered.
                self._acks[:0] = batch
                self.log.error(f"Storing {len(batch)} results failed: {exc!r}; retrying")
                if final and delay > 5:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            finally:
                self._acking = []
            for completion in batch:
                self._unacked.pop(completion.delivery.record.uuid, None)

    # --- leases, registration, upkeep --------------------------------------------------------
    async def _heartbeat(self) -> None:
        lease = self.config.lease_timeout
        while True:
            await asyncio.sleep(lease / 3)
            try:
                if self._unacked:
                    await self.backend.extend(list(self._unacked.values()), lease)
                await self._register()
            except Exception as exc:
                self.log.error(f"Heartbeat failed: {exc!r}")

    async def _watch_cancels(self) -> None:
        """Cancel running tasks that `app.cancel()` asked to stop (any process)."""
        while True:
            await asyncio.sleep(CANCEL_CHECK_INTERVAL)
            if not self._by_uuid:
                continue
            try:
                requests = await self.backend.cancel_requests(list(self._by_uuid))
            except Exception as exc:
                self.log.error(f"Checking cancel requests failed: {exc!r}")
                continue
            for uuid, reason in requests.items():
                task = self._by_uuid.get(uuid)
                if task is not None and uuid not in self._cancel_reasons:
                    self._cancel_reasons[uuid] = reason
                    task.cancel()

    async def _upkeep(self) -> None:
        interval = min(5.0, self.config.lease_timeout / 2)
        while True:
            try:
                await self._fire_upkeep()
                await self.backend.recover_expired(self.queue)
            except Exception as exc:
                self.log.error(f"Upkeep failed: {exc!r}")
            await asyncio.sleep(interval)

    async def _fire_upkeep(self) -> None:
        # Not a hot path: `trigger` returns at once when nobody listens.
        tables, log, backend = self.app._component_plugins, self.log, self.backend
        await trigger(
            tables["broker"], "broker_running_older_tasks", log, broker=backend, worker=self
        )
        await trigger(
            tables["storage"], "storage_running_older_tasks", log, storage=backend, worker=self
        )
        await trigger(tables["storage"], "storage_delete_finished_tasks", log, storage=backend)

    async def _register(self) -> None:
        info = {
            "app": self.app.name,
            "queue": self.queue,
            "pid": os.getpid(),
            "concurrency": self.concurrency,
            "started": time.time(),
        }
        try:
            await self.backend.register_worker(self.worker_id, info, self.config.lease_timeout)
        except Exception as exc:
            self.log.error(f"Registering worker failed: {exc!r}")

    async def _unregister(self) -> None:
        try:
            await self.backend.unregister_worker(self.worker_id)
        except Exception as exc:
            self.log.warning(f"Unregistering worker failed: {exc!r}")

    async def _drain(self) -> None:
        """Let running tasks finish within the grace period, then release the rest."""
        if self._running:
            grace = self.config.shutdown_grace
            self.log.info(f"Waiting up to {grace}s for {len(self._running)} running task(s)")
            await asyncio.wait(list(self._running), timeout=grace)
        leftovers = list(self._running.items())
        for task, _ in leftovers:
            task.cancel()
        await asyncio.gather(*(t for t, _ in leftovers), return_exceptions=True)
        # finished tasks (results queued or being stored right now) are not released
        done = {c.delivery.record.uuid for c in (*self._acks, *self._acking)}
        to_release = [d for u, d in self._unacked.items() if u not in done]
        if to_release:
            self.log.warning(f"Releasing {len(to_release)} unfinished task(s) back to the queue")
            try:
                await self.backend.release(to_release)
            except Exception as exc:
                self.log.error(f"Release failed ({exc!r}); their leases will expire instead")
            for d in to_release:
                self._unacked.pop(d.record.uuid, None)


async def _first(*awaitables: Awaitable[Any]) -> None:
    """Wait until the first awaitable finishes; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


__all__ = ["Worker"]
