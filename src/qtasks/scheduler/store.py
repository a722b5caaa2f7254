"""Where schedules live in the backend (`Coordination` documents), and storing the
declared ones."""

from __future__ import annotations

from qtasks.core.ports import Coordination
from qtasks.scheduler.model import Schedule

SCHEDULES = "schedules"  # collection: schedule id -> definition and run-time fields
RUNS = "schedule-runs"  # collection: schedule id -> last uuid, buffered slot, last slot
CURSORS = "scheduler"  # collection: "cursor:<lease>" -> {"until": epoch seconds}
#: Fields a process sets at run time, kept when the declaring code stores a schedule again.
RUNTIME_FIELDS = ("paused", "created_at", "resumed_at")


async def publish(coord: Coordination, declared: dict[str, Schedule], now: float) -> None:
    """Store each declared schedule, keeping the run-time fields of a stored one
    (`paused` survives a restart); written only where something changed."""
    if not declared:
        return
    stored = await coord.list_documents(SCHEDULES)
    for sid, schedule in declared.items():
        old = stored.get(sid) or {}
        doc = schedule.document()
        doc.update({k: old[k] for k in RUNTIME_FIELDS if k in old})
        doc.setdefault("created_at", now)
        doc.setdefault("paused", False)
        if doc != old:
            await coord.put_document(SCHEDULES, sid, doc)


__all__ = ["CURSORS", "RUNS", "RUNTIME_FIELDS", "SCHEDULES", "publish"]
