"""The worker loop: fetch with a lease, run under a concurrency bound, heartbeat,
acknowledge in batches, release on shutdown.

A redelivery (`attempts > 1`, see `engine.redelivery`) that may run runs *apart*: alone
in this worker, no fetch in flight, others fetched with it given back, and the worker
fetches one task at a time until a first delivery comes (as it does when it starts):
a task that kills its worker takes down nobody else, nor adds to their delivery count.

Every background job has an owner: the helpers (heartbeat, acker, upkeep, cancel
watch, pause watch) belong to one task group, the consumers and the running tasks to
another, both awaited or cancelled in `run()`; none outlives it, and a cancellation at
any point of `run()` leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid as uuid_mod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from qtasks.core.models import DEFAULT_QUEUE, Completion, Delivery, TaskSpec
from qtasks.engine import housekeeping, redelivery, worker_hooks
from qtasks.engine.injection import WorkerResources
from qtasks.engine.leases import LeaseKeeper
from qtasks.engine.pausing import PauseWatch
from qtasks.engine.task_run import crashed, run_delivery
from qtasks.engine.threads import TaskThreads
from qtasks.exc import SerializationError, WorkerRecycledError

if TYPE_CHECKING:
    from qtasks.core.runtime import Injector, Runtime

#: Longest a consumer blocks in one fetch; bounds how fast it notices a stop.
FETCH_WAIT = 1.0
#: Longest a freed slot waits for others while the queue is deep (see `_gather_slots`).
COALESCE_WAIT = 0.002


class Worker:
    def __init__(
        self,
        app: Runtime,
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
        self.hooks = app.hooks
        #: Long-lived state the argument injectors keep for this worker.
        self.resources = WorkerResources()
        self._by_uuid: dict[str, asyncio.Task[None]] = {}
        self._cancel_reasons: dict[str, str] = {}
        self._injectors: dict[str, list[Injector]] = {}
        self._work: asyncio.TaskGroup | None = None
        self._fetching: set[asyncio.Future[list[Delivery]]] = set()  # fetches in flight
        #: The redelivery waiting to run alone (see the module docs), and who runs it.
        self._apart: Delivery | None = None
        self._apart_lock = asyncio.Lock()
        #: Fetch one task at a time: at start (a predecessor may have died here) and
        #: while redeliveries come, so none is fetched along with a task that kills us.
        self._one_by_one = True
        self._deep = False  # the last fetch filled every slot it asked for
        self.executed = 0
        self.started_at = time.time()
        #: Why this worker stops to be replaced by a fresh process (see `_recycle`).
        self.recycle_reason: str | None = None
        self._pause = PauseWatch(self.backend, queue, self.log)  # `app.pause_queue()`

    @property
    def name(self) -> str:
        return self.app.name

    def injectors_for(self, spec: TaskSpec) -> list[Injector]:
        """The argument injectors `spec`'s task needs, created once per task name."""
        injectors = self._injectors.get(spec.name)
        if injectors is None:
            injectors = [factory() for factory in self.app.injectors if factory.applies(spec)]
            self._injectors[spec.name] = injectors
        return injectors

    def stopping(self) -> bool:
        """True once the worker stops: a task cancelled now was cancelled by the worker."""
        return self._stopping.is_set()

    def cancel_reason(self, uuid: str) -> str | None:
        """Why a running task was cancelled through `app.cancel()`, if it was."""
        return self._cancel_reasons.get(uuid)

    # --- public --------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop fetching; `run()` then drains and returns."""
        self._stopping.set()
        self._slot_freed.set()  # a consumer waiting for a free slot looks again
        for fetch in self._fetching:  # a waiting fetch ends now (fetch is cancel-safe)
            fetch.cancel()

    async def run(self, ready: Callable[[], Any] | None = None) -> None:
        """Consume until `stop()`, then drain, acknowledge and release; see the module docs."""
        max_stuck = self.config.max_stuck_threads
        self.pool = TaskThreads(
            self.concurrency,
            max_stuck=self.concurrency if max_stuck is None else max_stuck,
            on_overflow=self._recycle,
        )
        try:
            await self.hooks.run("worker_start", worker=self)
            with first_error():
                await self._run_groups(ready)
            await self._flush_acks(final=True)
            await housekeeping.unregister(self)
            await self.hooks.run("worker_stop", worker=self)
            if self.recycle_reason is not None:
                raise WorkerRecycledError(self.recycle_reason)
        finally:
            await self.resources.close(self.log)
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def _run_groups(self, ready: Callable[[], Any] | None) -> None:
        async with asyncio.TaskGroup() as helpers:
            jobs = [
                helpers.create_task(job())
                for job in (
                    self._heartbeat, self._acker, self._upkeep, self._watch_cancels,
                    self._pause.watch,
                )
            ]  # fmt: skip
            try:
                await self._serve(ready)
            finally:
                for job in jobs:
                    job.cancel()

    async def _serve(self, ready: Callable[[], Any] | None) -> None:
        """The consumers and the tasks they start, in one task group; drained on the way out."""
        async with asyncio.TaskGroup() as work:
            self._work = work
            consumers = [work.create_task(self._consume(n)) for n in range(self.consumers)]
            try:
                await housekeeping.register(self)
                for n in range(self.consumers):
                    await self.app.events.fire("worker_running", worker=self, number=n)
                if ready is not None:
                    ready()
                await asyncio.wait(consumers)  # a failure reaches the group, not this body
            finally:
                self._stopping.set()  # a task cancelled from here on: the worker's doing
                for consumer in consumers:
                    consumer.cancel()
                await asyncio.gather(*consumers, return_exceptions=True)
                await self._drain()
                for n in range(self.consumers):
                    await self.app.events.fire("worker_stopping", worker=self, number=n)

    # --- consuming -----------------------------------------------------------------------
    async def _consume(self, number: int) -> None:
        lease = self.config.lease_timeout
        await self.hooks.run("broker_listen_start", broker=self.backend, worker=self)
        while not self._stopping.is_set():
            if self._apart is not None:
                await self._run_apart()
                continue
            if self._pause.paused:  # `app.pause_queue()`: no fetch until it is resumed
                await self._pause.wait_resumed(self._stopping)
                continue
            free = self.concurrency - self._busy
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                await asyncio.sleep(0)  # slots freed in this tick join the next fetch
                continue
            if self._deep and free < self.concurrency and self._running:
                free = await self._gather_slots()
            self._busy += free
            try:
                got = await self._fetch(1 if self._one_by_one else free, lease)
                if self._one_by_one and free > 1 and _first_delivery(got):
                    # The rest of the batch now, without waiting: fetches stay whole
                    # batches instead of a lone task and the rest, round after round.
                    got += await self._fetch(free - 1, lease, wait=0.0)
            finally:
                self._busy -= free
            if self._stopping.is_set() and got:
                await self.backend.release(got)
                break
            failed: dict[str, Completion] = {}  # by uuid: deliveries whose fetch hooks failed
            if got and not self.hooks.active.isdisjoint(worker_hooks.FETCH_HOOKS):
                failed = await worker_hooks.on_fetched(self, got)
            redelivered: list[Delivery] = []
            for delivery in got:
                record = delivery.record
                self._unacked[record.uuid] = delivery
                if record.attempts <= 1 and not record.extra and not failed:
                    self._start(delivery)  # the hot path: a first delivery
                    continue
                settled = failed.get(record.uuid) or redelivery.settled_at_fetch(self, delivery)
                if record.attempts > 1:
                    redelivered.append(delivery)
                if settled is not None or record.attempts <= 1:
                    self._start(delivery, settled)
                elif self._apart is None:
                    self._apart = delivery
                else:
                    await redelivery.give_back(self, self._unacked.pop(record.uuid))
            self._deep = len(got) >= free
            if got:  # an empty fetch tells nothing: keep the mode
                self._one_by_one = bool(redelivered)

    async def _gather_slots(self) -> int:
        """Wait up to COALESCE_WAIT for every slot to be free; the free slots then.
        A deep queue is drained in whole batches, one fetch per batch instead of one per
        task that happened to finish first; a shallow one is never waited for."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COALESCE_WAIT
        while self._busy and self._running:
            left = deadline - loop.time()
            if left <= 0 or self._stopping.is_set():
                break
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), left)
        return self.concurrency - self._busy

    def _start(self, delivery: Delivery, settled: Completion | None = None) -> asyncio.Task[None]:
        self._busy += 1
        assert self._work is not None
        task = self._work.create_task(self._execute(delivery, settled))
        self._running[task] = delivery
        self._by_uuid[delivery.record.uuid] = task
        return task

    async def _run_apart(self) -> None:
        """Run the redelivery kept apart alone (see the module docs), unless the backend
        says its cancellation was requested meanwhile."""
        async with self._apart_lock:  # other consumers wait here instead of fetching
            delivery = self._apart
            if delivery is None:
                return
            while (self._running or self._fetching) and not self._stopping.is_set():
                self._slot_freed.clear()
                await self._slot_freed.wait()
            if self._stopping.is_set():
                return  # still unacked: the drain releases it
            settled = await redelivery.cancel_requested(self, delivery)
            task = self._start(delivery, settled)
            # Not `await task` (cancelling us must not cancel it), and a stop ends the
            # wait: the drain gives the task its grace period like any other.
            stop = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            self._apart = None

    async def _fetch(self, limit: int, lease: float, wait: float = FETCH_WAIT) -> list[Delivery]:
        """Up to `limit` deliveries; [] when `stop()` interrupted the wait. The fetch runs
        as a task this consumer awaits and `stop()` may cancel (fetch is cancel-safe); a
        fetch that already returned is not cancelled, so its deliveries are never lost."""
        fetch = asyncio.ensure_future(
            self.backend.fetch(self.queue, limit, lease, self.worker_id, wait)
        )
        self._fetching.add(fetch)
        try:
            return await fetch
        except asyncio.CancelledError:
            consumer = asyncio.current_task()
            if (
                fetch.cancelled()
                and self._stopping.is_set()
                and consumer
                and not consumer.cancelling()
            ):
                return []  # stop() ended the wait
            raise
        except Exception as exc:
            self.log.error("Fetching from %r failed: %r; retrying", self.backend, exc)
            with contextlib.suppress(TimeoutError):  # a pause that stop() cuts short
                await asyncio.wait_for(self._stopping.wait(), 1.0)
            return []
        finally:
            self._fetching.discard(fetch)
            if self._apart is not None:
                self._slot_freed.set()  # the redelivery waiting apart looks again
            if not fetch.done():  # this consumer was cancelled: its fetch goes too
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)

    async def _execute(self, delivery: Delivery, settled: Completion | None = None) -> None:
        current = asyncio.current_task()
        uuid = delivery.record.uuid
        completion: Completion | None = None
        try:
            try:
                completion = await run_delivery(self, delivery, settled)
            except asyncio.CancelledError:
                raise  # the worker's own: the drain releases the lease
            except BaseException as exc:  # run_delivery has its own net; this is the last
                completion = crashed(self, delivery, exc, "failed in the worker's handling")
            if not self.hooks.active.isdisjoint(worker_hooks.FINISH_HOOKS):
                completion = await worker_hooks.on_finished(self, completion)
        finally:
            # A known outcome is stored even when the worker stops meanwhile.
            if completion is not None:
                self.executed += 1
                self._acks.append(completion)
                self._ack_ready.set()
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
            except SerializationError:
                # One record the backend cannot encode must not hold back the others
                # (nor be retried forever): store them one by one, that one as an error.
                left = await redelivery.complete_each(self, batch)
                self._acks[:0] = left
                batch = [c for c in batch if all(c is not x for x in left)]
            except Exception as exc:
                # Nothing is lost: the batch goes back, leases stay extended meanwhile,
                # and if this process dies the tasks are redelivered.
                self._acks[:0] = batch
                self.log.error("Storing %s results failed: %r; retrying", len(batch), exc)
                if final and delay > 5:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            finally:
                self._acking = []
            for completion in batch:
                self._unacked.pop(completion.delivery.record.uuid, None)
            if self.hooks.listens("worker_tasks_acked"):
                await self.hooks.run("worker_tasks_acked", worker=self, completions=batch)

    # --- leases, registration, upkeep --------------------------------------------------------
    async def _heartbeat(self) -> None:
        """Own the lease thread (`engine.leases`): leases, registration and the loop watch
        run there, so a task blocking this loop does not cost the others their leases."""
        registered = self.backend.capabilities.worker_registry
        keeper = LeaseKeeper(
            self.backend,
            lease=self.config.lease_timeout,
            block_warning=self.config.loop_block_warning,
            # dict.copy() is one step for other threads (no Python code runs inside it),
            # so the snapshot is consistent while the loop adds and removes deliveries.
            deliveries=lambda: list(self._unacked.copy().values()),
            running=self._running,
            registration=(self.worker_id, housekeeping.registration(self)) if registered else None,
            log=self.log,
            name=f"qtasks-leases-{self.queue}",
        )
        keeper.start()
        try:
            await asyncio.Event().wait()  # until the worker cancels its helpers
        finally:
            await keeper.stop()

    def _recycle(self, stuck: int) -> None:
        """More task threads are stuck than `max_stuck_threads`: stop fetching, drain as on
        shutdown, and have `run()` raise `WorkerRecycledError` (`qtasks run` exits with
        its code) so that a supervisor starts a fresh process."""
        if self._stopping.is_set():
            return  # stopping anyway (a shutdown writes off threads past the grace)
        limit = self.pool.max_stuck if self.pool else "?"
        self.recycle_reason = (
            f"{stuck} task threads are still running sync code whose task already ended "
            f"(time limit or cancel), more than max_stuck_threads={limit}"
        )
        self.log.warning(
            "Recycling this worker: %s. It stops fetching, lets running tasks finish "
            "within shutdown_grace, releases the rest and stops (exit code %s)",
            self.recycle_reason,
            WorkerRecycledError.exit_code,
        )
        self.stop()

    async def _upkeep(self) -> None:
        await housekeeping.upkeep(self)

    async def _watch_cancels(self) -> None:
        await housekeeping.watch_cancels(self, self._by_uuid, self._cancel_reasons)

    async def _drain(self) -> None:
        """Let running tasks finish within the grace period, then release the rest."""
        if self._running:
            grace = self.config.shutdown_grace
            self.log.info("Waiting up to %ss for %s running task(s)", grace, len(self._running))
            await asyncio.wait(list(self._running), timeout=grace)
        leftovers = list(self._running.items())
        for task, _ in leftovers:
            task.cancel()
        await asyncio.gather(*(t for t, _ in leftovers), return_exceptions=True)
        # finished tasks (results queued or being stored right now) are not released
        done = {c.delivery.record.uuid for c in (*self._acks, *self._acking)}
        to_release = [d for u, d in self._unacked.items() if u not in done]
        if to_release:
            self.log.warning("Releasing %s unfinished task(s) back to the queue", len(to_release))
            try:
                await self.backend.release(to_release)
            except Exception as exc:
                self.log.error("Release failed (%r); their leases will expire instead", exc)
            for d in to_release:
                self._unacked.pop(d.record.uuid, None)


def _first_delivery(got: list[Delivery]) -> bool:
    return len(got) == 1 and got[0].record.attempts <= 1


@contextlib.contextmanager
def first_error() -> Iterator[None]:
    """Re-raise a task group's only error as itself (the caller of `run_forever` or
    `app.start()` sees the worker's error, not a group of one)."""
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]  # groups nest: the worker's in the server's
        if error is group:
            raise
        raise error from None


__all__ = ["Worker"]
