"""The scheduler loop: one leader at a time enqueues each due slot once.

Every process running a scheduler (workers by default, `qtasks beat`, a 1.7 timer)
tries to take the leader lease (`Coordination.acquire_lease`) every third of its time
to live; the holder renews it on every tick. The leader:

1. reads the stored schedules (at most once a second) and the cursor: the instant up
   to which every slot was enqueued, saved after each tick;
2. lists each schedule's slots between its cursor and now, keeps those its catch-up
   policy fires and its overlap policy allows, and enqueues them in one call, each under
   the uuid of its slot (`slot_uuid`);
3. saves the cursor, and sleeps until the next slot (at most a second, at most a third
   of the lease). With no schedule stored it looks again every third of the lease.

Exactly once: a slot's uuid is the same in every process and enqueue is idempotent by
uuid, so a slot enqueued by two leaders at once (a partition, a paused process whose
lease ran out) or again by a new leader (the old one died before saving the cursor) is
one task. When the leader dies, another takes the lease within its time to live plus a
third of it, and fires the slots missed meanwhile (late, not lost) under the catch-up
policy. Slots are decided by the backend's clock where it has one: `now` is the
leader's clock plus the offset to the time the lease was acquired at.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import time
import uuid as uuid_mod
from collections.abc import Callable
from typing import Any

from qtasks.core.log import Log
from qtasks.core.models import TaskRecord
from qtasks.core.ports import Backend, Coordination
from qtasks.core.records import new_record
from qtasks.core.status import SETTLED_STATUSES
from qtasks.scheduler.model import (
    MISFIRE_GRACE,
    Schedule,
    from_document,
    jitter_of,
    slot_uuid,
    to_fire,
)
from qtasks.scheduler.slots import Trigger, next_slot, slots_between
from qtasks.scheduler.store import CURSORS, RUNS, SCHEDULES, publish

#: Longest sleep between ticks: new, paused and removed schedules are seen this fast.
MAX_SLEEP = 1.0


@dataclasses.dataclass
class _Plan:
    schedule: Schedule
    doc: dict[str, Any]
    done_until: float  # every slot up to here is handled
    next: float | None
    last_uuid: str | None = None
    pending: float | None = None  # a slot buffered behind a running one (buffer_one)


class Scheduler:
    """The scheduler of one app (async; a worker runs it in its task group).

    `declared()` gives the schedules this process declares (stored when it starts);
    `find_task(name)` the task's spec, for its default priority and queue. `lease`
    names the leader lease ("scheduler" for an app's, "timer" for 1.7's timers, whose
    triggers only their processes hold). `clock` and `use_backend_clock=False` let tests
    drive time."""

    def __init__(
        self,
        backend: Backend,
        *,
        app_name: str,
        log: Log,
        declared: Callable[[], dict[str, Schedule]],
        find_task: Callable[[str], Any],
        default_priority: int = 0,
        lease_ttl: float = 10.0,
        lease: str = "scheduler",
        clock: Callable[[], float] = time.time,
        use_backend_clock: bool = True,
    ) -> None:
        if not (backend.capabilities.coordination and isinstance(backend, Coordination)):
            backend.capabilities.require("coordination", backend)
        self.backend = backend
        self.coord: Coordination = backend  # type: ignore[assignment]
        self.app_name = app_name
        self.log = log
        self.declared = declared
        self.find_task = find_task
        self.default_priority = default_priority
        self.lease_ttl = float(lease_ttl)
        self.lease = lease
        self.owner = "timer" if lease == "timer" else "app"
        self.clock = clock
        self.use_backend_clock = use_backend_clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid_mod.uuid4().hex[:8]}"
        self.leading = False
        self.offset = 0.0
        self.plans: dict[str, _Plan] = {}
        self.fired = 0
        self._loaded_at = -float("inf")
        self._cursor: float | None = None

    def describe(self) -> str:
        return "scheduler=on"

    # --- the loop ----------------------------------------------------------------------
    async def run(self) -> None:
        """Tick until cancelled; gives the lease up when it stops."""
        published = False
        try:
            while True:
                try:
                    if not published:
                        await self.publish()
                        published = True
                    pause = await self.tick()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the backend is down: try again shortly
                    self.log.warning("Scheduler tick failed: %r", exc)
                    self._step_down()
                    pause = min(MAX_SLEEP, self.lease_ttl / 3)
                await asyncio.sleep(pause)
        finally:
            if self.leading:
                try:
                    await asyncio.shield(self.coord.release_lease(self.lease, self.holder))
                except BaseException:  # stopping anyway: the lease then expires
                    pass

    async def publish(self) -> None:
        """Store the schedules this process declares (keeping their run-time fields)."""
        await publish(self.coord, self.declared(), self.clock())

    async def tick(self) -> float:
        """One step: hold or try the lease, fire what is due; returns seconds to sleep."""
        before = self.clock()
        held = await self.coord.acquire_lease(self.lease, self.holder, self.lease_ttl)
        if held is None:
            if self.leading:
                self.log.info("Scheduler: no longer the leader (%s)", self.holder)
            self._step_down()
            return self.lease_ttl / 3
        if self.use_backend_clock:
            self.offset = held - (before + self.clock()) / 2
        if not self.leading:
            self.leading = True
            self.log.info("Scheduler: leading (%s), lease %gs", self.holder, self.lease_ttl)
        now = self.now()
        if now - self._loaded_at >= MAX_SLEEP or not self.plans:
            await self._reload(now)
        if not self.plans:  # nothing to fire: look for new schedules now and then
            return self.lease_ttl / 3
        await self._fire_due(now)
        await self.coord.put_document(CURSORS, f"cursor:{self.lease}", {"until": now})
        self._cursor = now
        upcoming = [p.next for p in self.plans.values() if p.next is not None]
        wake = min(upcoming, default=now + MAX_SLEEP) - self.now()
        return max(0.001, min(wake, MAX_SLEEP, self.lease_ttl / 3))

    def now(self) -> float:
        return self.clock() + self.offset

    def _step_down(self) -> None:
        self.leading = False
        self.plans.clear()
        self._cursor = None
        self._loaded_at = -float("inf")

    # --- what is due ---------------------------------------------------------------------
    async def _reload(self, now: float) -> None:
        docs = await self.coord.list_documents(SCHEDULES)
        if self._cursor is None:
            stored = await self.coord.get_document(CURSORS, f"cursor:{self.lease}")
            self._cursor = float(stored["until"]) if stored else None
        local = self.declared() if self.owner == "timer" else {}
        plans: dict[str, _Plan] = {}
        for sid, doc in docs.items():
            if doc.get("owner", "app") != self.owner or doc.get("paused"):
                continue
            known = self.plans.get(sid)
            if known is not None and known.doc == doc:
                plans[sid] = known
                continue
            schedule = local.get(sid) if self.owner == "timer" else _parse(sid, doc, self.log)
            if schedule is None:
                continue
            start = max(
                float(doc.get("created_at", now)),
                float(doc.get("resumed_at") or 0.0),
                self._cursor if self._cursor is not None else float(doc.get("created_at", now)),
            )
            run = await self.coord.get_document(RUNS, sid) or {}
            if isinstance(schedule.timing, Trigger):  # an interval goes on from its last slot
                previous = run.get("slot")
                schedule = dataclasses.replace(
                    schedule, timing=Trigger(schedule.timing.trigger, previous)
                )
            plans[sid] = _Plan(
                schedule,
                doc,
                start,
                next_slot(schedule.timing, start),
                run.get("uuid"),
                run.get("pending"),
            )
        self.plans = plans
        self._loaded_at = now

    async def _fire_due(self, now: float) -> None:
        records: list[TaskRecord] = []
        runs: dict[str, dict[str, Any]] = {}
        for sid, plan in self.plans.items():
            if plan.pending is not None and not await self._running(plan.last_uuid):
                slot, plan.pending = plan.pending, None
                try:
                    records.append(self._record(plan, slot))
                except Exception as exc:
                    self.log.warning("Schedule %r cannot fire (%r): slot skipped", sid, exc)
                    continue
                plan.last_uuid = records[-1].uuid
                runs[sid] = {"uuid": plan.last_uuid, "pending": None, "slot": slot}
            if plan.next is None or plan.next > now:
                continue
            timing = plan.schedule.timing
            # No policy fires a slot older than its window: do not list those (a day of
            # downtime is 86,400 slots of a schedule every second).
            horizon = now - max(plan.schedule.catch_up_window, MISFIRE_GRACE) - 1.0
            if plan.done_until < horizon:
                if plan.next <= horizon:
                    self.log.warning(
                        "Schedule %r: its slots from %s to %s are dropped (older than its "
                        "catch-up window)", sid, _iso(plan.next), _iso(horizon),
                    )  # fmt: skip
                plan.done_until = horizon
            due = slots_between(timing, plan.done_until, now)
            if (
                isinstance(timing, Trigger) and due
            ):  # go on from the last slot, not from the old one
                timing = Trigger(timing.trigger, due[-1])
                plan.schedule = dataclasses.replace(plan.schedule, timing=timing)
            plan.done_until = now
            plan.next = next_slot(timing, now)
            fire, dropped = to_fire(plan.schedule, due, now)
            if dropped:
                self.log.warning(
                    "Schedule %r: %s missed slot(s) dropped (catch_up=%r)",
                    sid, dropped, plan.schedule.catch_up,
                )  # fmt: skip
            if not fire:
                continue
            if plan.schedule.overlap != "allow":
                fire = await self._overlap(plan, fire, runs)
            if not fire:
                continue
            try:
                made = [self._record(plan, slot) for slot in fire]
            except Exception as exc:  # a schedule whose call cannot be built skips only itself
                self.log.warning("Schedule %r cannot fire (%r): slot skipped", sid, exc)
                continue
            records += made
            plan.last_uuid = made[-1].uuid
            runs[sid] = {"uuid": plan.last_uuid, "pending": plan.pending, "slot": fire[-1]}
        if records:
            await self.backend.enqueue(records)
            self.fired += len(records)
            for record in records:
                self.log.info(
                    "Schedule %r fired: slot %s, task %s (%s)",
                    record.extra["schedule"], _iso(record.extra["slot"]),
                    record.uuid, record.task_name,
                )  # fmt: skip
        for sid, run in runs.items():
            plan = self.plans[sid]
            if plan.schedule.overlap != "allow" or isinstance(plan.schedule.timing, Trigger):
                await self.coord.put_document(RUNS, sid, run)

    async def _overlap(
        self, plan: _Plan, fire: list[float], runs: dict[str, dict[str, Any]]
    ) -> list[float]:
        """The slots the overlap policy lets through: at most one, and none while the
        last run is still queued or running (buffered once under "buffer_one")."""
        if not await self._running(plan.last_uuid):
            return fire[-1:]
        if plan.schedule.overlap == "buffer_one" and plan.pending is None:
            plan.pending = fire[-1]
            runs[plan.schedule.id] = {"uuid": plan.last_uuid, "pending": plan.pending}
        self.log.info(
            "Schedule %r: slot %s %s, the run before is not over",
            plan.schedule.id, _iso(fire[-1]),
            "buffered" if plan.pending == fire[-1] else "skipped",
        )  # fmt: skip
        return []

    async def _running(self, uuid: str | None) -> bool:
        if uuid is None:
            return False
        record = await self.backend.get(uuid)
        return record is not None and record.status not in SETTLED_STATUSES

    def _record(self, plan: _Plan, slot: float) -> TaskRecord:
        schedule = plan.schedule
        spec = self.find_task(schedule.task_name)
        delay = jitter_of(schedule, slot)
        record = new_record(
            schedule.task_name,
            schedule.args,
            schedule.kwargs,
            schedule.priority,
            spec=spec,
            default_priority=self.default_priority,
            eta=slot + delay if delay else None,
            queue=schedule.queue,
            uuid=slot_uuid(self.app_name, schedule.id, slot),
        )
        record.extra = {"schedule": schedule.id, "slot": slot}
        return record


def _parse(sid: str, doc: dict[str, Any], log: Log) -> Schedule | None:
    try:
        return from_document(sid, doc)
    except Exception as exc:  # a bad stored document must not stop the others
        log.warning("Schedule %r cannot be read (%r): skipped", sid, exc)
        return None


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


__all__ = ["MAX_SLEEP", "Scheduler"]
