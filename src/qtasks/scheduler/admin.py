"""Managing stored schedules from any process: store the declared ones, list them with
their next run, pause, resume, remove, run one now. Async; the sync app runs these on
the process's portal."""

from __future__ import annotations

import dataclasses
import time
import uuid as uuid_mod
from datetime import UTC, datetime
from typing import Any

from qtasks.core.ports import Backend, Coordination
from qtasks.core.records import new_record
from qtasks.exc import ConfigError
from qtasks.scheduler.model import Schedule, from_document
from qtasks.scheduler.slots import Timing, next_slot
from qtasks.scheduler.store import CURSORS, SCHEDULES, publish


@dataclasses.dataclass(frozen=True)
class ScheduleInfo:
    """A stored schedule as `app.schedules()` lists it. `next_run` is a timezone-aware
    datetime (UTC) of its next slot, None while paused or when it has none left;
    `timing` describes it ("cron '0 3 * * *' in Europe/Berlin", "every 30s")."""

    id: str
    task_name: str
    timing: str
    paused: bool
    next_run: datetime | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    overlap: str
    catch_up: str
    jitter: float
    owner: str


def coordination(backend: Backend) -> Coordination:
    """`backend` as a `Coordination`; `CapabilityError` when it has none."""
    backend.capabilities.require("coordination", backend)
    assert isinstance(backend, Coordination)
    return backend


async def list_schedules(
    coord: Coordination, declared: dict[str, Schedule], now: float
) -> list[ScheduleInfo]:
    """Every stored schedule (after storing the declared ones), by id."""
    await publish(coord, declared, now)
    docs = await coord.list_documents(SCHEDULES)
    cursor = await coord.get_document(CURSORS, "cursor:scheduler")
    out = []
    for sid in sorted(docs):
        doc = docs[sid]
        schedule = declared.get(sid) or from_document(sid, doc)
        timing: Timing | None = schedule.timing if schedule is not None else None
        paused = bool(doc.get("paused"))
        upcoming = None
        if timing is not None and not paused:
            since = max(now, float(cursor["until"]) if cursor else now)
            upcoming = next_slot(timing, since)
        out.append(
            ScheduleInfo(
                sid,
                str(doc["task"]),
                timing.describe() if timing is not None else str(doc.get("trigger")),
                paused,
                None if upcoming is None else datetime.fromtimestamp(upcoming, UTC),
                tuple(doc.get("args") or ()),
                dict(doc.get("kwargs") or {}),
                str(doc.get("overlap", "skip")),
                str(doc.get("catch_up", "all")),
                float(doc.get("jitter", 0.0)),
                str(doc.get("owner", "app")),
            )
        )
    return out


async def _stored(coord: Coordination, declared: dict[str, Schedule], sid: str) -> dict[str, Any]:
    await publish(coord, {k: v for k, v in declared.items() if k == sid}, time.time())
    doc = await coord.get_document(SCHEDULES, sid)
    if doc is None:
        raise KeyError(f"No schedule {sid!r}")
    return doc


async def set_paused(
    coord: Coordination, declared: dict[str, Schedule], sid: str, paused: bool
) -> None:
    """Pause or resume schedule `sid` (KeyError when unknown). A resumed schedule fires
    no slot of its pause: it goes on from the time it was resumed."""
    doc = await _stored(coord, declared, sid)
    if bool(doc.get("paused")) == paused:
        return
    doc["paused"] = paused
    if not paused:
        doc["resumed_at"] = time.time()
    await coord.put_document(SCHEDULES, sid, doc)


async def remove(coord: Coordination, sid: str) -> bool:
    """Forget schedule `sid`; True when it was stored. A schedule declared in code is
    stored again when a process declaring it starts: pause it to stop it for good."""
    return await coord.delete_document(SCHEDULES, sid)


async def run_now(
    backend: Backend,
    declared: dict[str, Schedule],
    sid: str,
    *,
    find_task: Any,
    default_priority: int,
) -> str:
    """Enqueue schedule `sid`'s task now, outside its slots; returns the task's uuid."""
    doc = await _stored(coordination(backend), declared, sid)
    schedule = declared.get(sid) or from_document(sid, doc)
    if schedule is None:
        raise ConfigError(f"Schedule {sid!r} is a timer's: run it from its timer's process")
    record = new_record(
        schedule.task_name,
        schedule.args,
        schedule.kwargs,
        schedule.priority,
        spec=find_task(schedule.task_name),
        default_priority=default_priority,
        queue=schedule.queue,
        uuid=str(uuid_mod.uuid4()),
    )
    record.extra = {"schedule": sid, "slot": None, "run_now": True}
    await backend.enqueue([record])
    return record.uuid


__all__ = [
    "ScheduleInfo",
    "coordination",
    "list_schedules",
    "remove",
    "run_now",
    "set_paused",
]
