"""A schedule as declared and as stored, the identity of its slots, and which of its
missed slots to fire (pure: no I/O, no clock of its own)."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import uuid as uuid_mod
from datetime import timedelta
from typing import Any

from qtasks.exc import ConfigError
from qtasks.scheduler.slots import Cron, Every, Timing, Trigger

OVERLAP = ("skip", "buffer_one", "allow")
CATCH_UP = ("all", "last", "none")
#: Seconds late a slot may still fire under `catch_up="none"` (a slow tick, not downtime).
MISFIRE_GRACE = 2.0
#: Who computes a schedule's slots: the app's scheduler (workers, `qtasks beat`) or the
#: timers of QTasks 1.7 (their triggers live in the timer's process only).
OWNERS = ("app", "timer")
_UUID_NAMESPACE = uuid_mod.UUID("6f1c2a34-31d5-4a0e-9d2c-5e0b7a3c9e11")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A periodic task: `task_name(*args, **kwargs)` at every slot of `timing`.

    `overlap`: what a slot does while the run of an earlier slot is still queued or
    running: "skip" it (default), "buffer_one" (run it once that run is over; further
    slots meanwhile are skipped) or "allow" (run anyway). `catch_up`: which slots missed
    while no scheduler ran fire when one runs again: "all" within `catch_up_window`
    seconds (default 300), only the "last", or "none". `jitter`: seconds (>= 0) of
    delay, the same for a slot in every process, spreading schedules that share a slot.
    """

    id: str
    task_name: str
    timing: Timing
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    priority: int | None = None
    queue: str | None = None
    overlap: str = "skip"
    catch_up: str = "all"
    catch_up_window: float = 300.0
    jitter: float = 0.0
    owner: str = "app"

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ConfigError(f"A schedule id must be a non-empty string, got {self.id!r}")
        if self.overlap not in OVERLAP:
            raise ConfigError(f"overlap must be one of {OVERLAP}, got {self.overlap!r}")
        if self.catch_up not in CATCH_UP:
            raise ConfigError(f"catch_up must be one of {CATCH_UP}, got {self.catch_up!r}")
        for name in ("catch_up_window", "jitter"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")

    def document(self) -> dict[str, Any]:
        """The stored form (without the run-time fields `paused`, `created_at`...)."""
        timing = self.timing
        doc: dict[str, Any] = {
            "task": self.task_name,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "priority": self.priority,
            "queue": self.queue,
            "overlap": self.overlap,
            "catch_up": self.catch_up,
            "catch_up_window": self.catch_up_window,
            "jitter": self.jitter,
            "owner": self.owner,
        }
        if isinstance(timing, Every):
            doc["every"] = timing.seconds
        elif isinstance(timing, Cron):
            doc["cron"], doc["tz"] = timing.expression, timing.tz
        else:
            doc["trigger"] = timing.describe()
        return doc


def timing_of(cron: str | None, every: float | timedelta | None, tz: str | None) -> Timing:
    """`Cron(cron, tz)` or `Every(every)` (seconds or a timedelta): exactly one of them."""
    if (cron is None) == (every is None):
        raise ConfigError("A schedule takes exactly one of cron= and every=")
    if cron is not None:
        return Cron(cron, tz or "UTC")
    if tz is not None:
        raise ConfigError("tz= applies to cron= schedules (every= counts real seconds)")
    seconds = every.total_seconds() if isinstance(every, timedelta) else every
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ConfigError(f"every= takes seconds or a timedelta, got {every!r}")
    return Every(float(seconds))


def from_document(schedule_id: str, doc: dict[str, Any]) -> Schedule | None:
    """The schedule a stored document describes; None for one whose slots this process
    cannot compute (a timer's trigger lives in the timer's process)."""
    if "every" in doc:
        timing: Timing = Every(float(doc["every"]))
    elif "cron" in doc:
        timing = Cron(str(doc["cron"]), str(doc.get("tz") or "UTC"))
    else:
        return None
    return Schedule(
        schedule_id,
        str(doc["task"]),
        timing,
        tuple(doc.get("args") or ()),
        dict(doc.get("kwargs") or {}),
        doc.get("priority"),
        doc.get("queue"),
        str(doc.get("overlap", "skip")),
        str(doc.get("catch_up", "all")),
        float(doc.get("catch_up_window", 300.0)),
        float(doc.get("jitter", 0.0)),
        str(doc.get("owner", "app")),
    )


def slot_uuid(app_name: str, schedule_id: str, slot: float) -> str:
    """The task uuid of one slot: the same in every process, so a slot enqueued twice
    (two leaders at once, a leader that died before saving its progress) is one task."""
    key = f"{app_name}\x00{schedule_id}\x00{round(slot * 1000)}"
    return str(uuid_mod.uuid5(_UUID_NAMESPACE, key))


def jitter_of(schedule: Schedule, slot: float) -> float:
    """Seconds of delay of this slot, in [0, jitter), the same in every process."""
    if not schedule.jitter:
        return 0.0
    digest = hashlib.blake2b(f"{schedule.id}\x00{slot!r}".encode(), digest_size=8).digest()
    return schedule.jitter * int.from_bytes(digest, "big") / 2**64


def to_fire(schedule: Schedule, slots: list[float], now: float) -> tuple[list[float], int]:
    """Of the slots due by `now` (in order), those the catch-up policy fires, and how
    many it drops."""
    if schedule.catch_up == "none":
        kept = [s for s in slots if now - s <= MISFIRE_GRACE]
    else:
        kept = [s for s in slots if now - s <= max(schedule.catch_up_window, MISFIRE_GRACE)]
        if schedule.catch_up == "last":
            kept = kept[-1:]
    return kept, len(slots) - len(kept)


__all__ = [
    "CATCH_UP",
    "MISFIRE_GRACE",
    "OVERLAP",
    "OWNERS",
    "Schedule",
    "Trigger",
    "from_document",
    "jitter_of",
    "slot_uuid",
    "timing_of",
    "to_fire",
]
