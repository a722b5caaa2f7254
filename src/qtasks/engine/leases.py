"""The worker's lease thread: renews the leases of its running tasks, refreshes its
registration, and watches its event loop, from a thread of its own.

Leases must not depend on the event loop: an async task that blocks the loop (a
`time.sleep()`, CPU work without an `await`) would otherwise stop the renewals of every
task of the worker, their leases would expire, and other workers would run them a second
time. So every `lease / 3` seconds the thread takes a snapshot of the deliveries still
unacknowledged and renews them with `backend.extend_sync()` (a connection of its own, not
the loop's), and refreshes the worker's registration with `register_worker_sync()`. A
backend without these twins (`NotImplementedError`) gets the calls on the loop instead.

The same thread watches the loop: it posts a no-op to it and, when that has not run
after `loop_block_warning` seconds, logs one warning naming the task holding the loop;
when the loop runs again, one line says for how long it was blocked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtasks.core.log import Log
    from qtasks.core.models import Delivery
    from qtasks.core.ports import Backend


class LeaseKeeper:
    """The thread (see the module docs); `start()` and `stop()` from the loop's thread.

    `lease` and `block_warning` are seconds (`block_warning=0`: no loop watch).
    `deliveries()` returns a snapshot of the unacknowledged deliveries (called on the
    thread: it must not iterate what the loop changes); `running` maps the worker's
    asyncio tasks to their deliveries (read to name a task that blocks the loop);
    `registration` is the worker's (id, info) in the registry, None without one."""

    def __init__(
        self,
        backend: Backend,
        *,
        lease: float,
        block_warning: float,
        deliveries: Callable[[], Sequence[Delivery]],
        running: Mapping[asyncio.Task[None], Delivery],
        registration: tuple[str, dict[str, Any]] | None,
        log: Log,
        name: str = "qtasks-leases",
    ) -> None:
        self.backend = backend
        self.lease = lease
        self.deliveries = deliveries
        self.running = running
        self.registration = registration
        self.block_warning = block_warning
        self.log = log
        self.loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        # The ping in flight: when it was posted, and when the loop ran it (0: not yet).
        self._ping_sent = 0.0
        self._ping_ran = 0.0
        self._blocked_by: str | None = None  # the task named in the warning of this block
        self._on_loop = {"extend": False, "register": False}  # twins missing: use the loop

    def start(self) -> None:
        self._thread.start()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait (without blocking the loop) up to `timeout` seconds
        for its backend call in progress to end."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    # --- the thread ----------------------------------------------------------------------
    def _main(self) -> None:
        renew_every = self.lease / 3
        watch = self.block_warning
        # Watch often enough to warn within a quarter of the threshold after it passed.
        tick = min(renew_every, watch / 4) if watch > 0 else renew_every
        now = time.monotonic()
        next_renew = now + renew_every
        if watch > 0:
            self._ping(now)
        while not self._stop.wait(max(0.0, min(next_renew, now + tick) - now)):
            now = time.monotonic()
            if watch > 0:
                self._watch(now)
            if now >= next_renew:
                self._renew()
                now = time.monotonic()
                next_renew = now + renew_every

    def _renew(self) -> None:
        deliveries = list(self.deliveries())
        if deliveries:
            try:
                self._run(
                    "extend", self.backend.extend_sync, self.backend.extend, deliveries, self.lease
                )
            except Exception as exc:
                self.log.error("Renewing the leases of %s task(s) failed: %r", len(deliveries), exc)
        if self.registration is not None:
            worker_id, info = self.registration
            # What it runs now (fetched, not acknowledged yet), for `app.live_workers()`.
            running = [
                {
                    "uuid": d.record.uuid,
                    "task_name": d.record.task_name,
                    "started": d.record.updated_at,
                }
                for d in deliveries
            ]
            info = dict(info, running=running)
            registry: Any = self.backend
            try:
                self._run(
                    "register",
                    registry.register_worker_sync,
                    registry.register_worker,
                    worker_id,
                    info,
                    self.lease,
                )
            except Exception as exc:
                self.log.error("Refreshing the worker's registration failed: %r", exc)

    def _run(
        self,
        what: str,
        sync: Callable[..., Any],
        on_loop: Callable[..., Coroutine[Any, Any, Any]],
        *args: Any,
    ) -> None:
        if not self._on_loop[what]:
            try:
                sync(*args)
                return
            except NotImplementedError:
                self._on_loop[what] = True
                self.log.debug("%r has no %s twin: renewing on the event loop", self.backend, what)
        # Without the twin, the loop does it (and a blocked loop delays it).
        future = asyncio.run_coroutine_threadsafe(on_loop(*args), self.loop)
        future.add_done_callback(self._report)

    def _report(self, future: Any) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.log.error("Renewing on the event loop failed: %r", future.exception())

    # --- the loop watch ------------------------------------------------------------------
    def _ping(self, now: float) -> None:
        self._ping_sent, self._ping_ran = now, 0.0
        try:
            self.loop.call_soon_threadsafe(self._pong)
        except RuntimeError:  # the loop closed: the worker is gone
            self._stop.set()

    def _pong(self) -> None:  # on the loop
        self._ping_ran = time.monotonic()

    def _watch(self, now: float) -> None:
        ran = self._ping_ran
        if ran:
            if self._blocked_by is not None:
                self.log.info(
                    "The event loop ran again after %.1fs blocked by %s",
                    ran - self._ping_sent,
                    self._blocked_by,
                )
                self._blocked_by = None
            self._ping(now)
        elif self._blocked_by is None and now - self._ping_sent >= self.block_warning:
            # Read from this thread while the loop is stuck in that task: a dict lookup.
            self._blocked_by = self._describe(asyncio.current_task(self.loop))
            self.log.warning(
                "%s has blocked the event loop for %.1fs (loop_block_warning=%ss): "
                "nothing else of this worker runs meanwhile. Await instead of blocking, "
                "or make it a sync task (those run on threads)",
                self._blocked_by,
                now - self._ping_sent,
                self.block_warning,
            )

    def _describe(self, task: asyncio.Task[Any] | None) -> str:
        """Name what holds the loop: the task's name and uuid where it is one of the
        worker's tasks."""
        if task is None:
            return "A callback outside any task"
        delivery = self.running.get(task)
        if delivery is not None:
            return f"Task {delivery.record.task_name} ({delivery.record.uuid})"
        coro = task.get_coro()
        return f"asyncio task {task.get_name()} ({getattr(coro, '__qualname__', coro)})"


__all__ = ["LeaseKeeper"]
