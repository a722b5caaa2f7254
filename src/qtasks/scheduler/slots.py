"""When a schedule is due: pure slot computation, no I/O, no clock of its own.

A *slot* is an instant (epoch seconds, a float) at which a schedule fires. Three kinds
of timing give slots:

- `Every(seconds)`: the multiples of `seconds` since the epoch (UTC), so every process
  computes the same grid: `every=30` fires at :00 and :30 of each minute.
- `Cron(expression, tz)`: a cron expression (croniter: 5 fields, or 6 with seconds
  last) read in the wall clock of the IANA zone `tz` (default UTC).
- `Trigger(trigger)`: an APScheduler trigger (`get_next_fire_time(previous, now)`), for
  the timers of QTasks 1.7.

Daylight saving time, for `Cron`: the expression is evaluated on the naive wall clock,
then each wall time becomes an instant. A wall time the clock skips (spring forward,
02:30 in a zone that jumps from 02:00 to 03:00) fires once, shifted forward by the gap
(03:30), when the hour field names fixed hours; when it is a wildcard (`*`, `*/2`) that
hour does not exist and is skipped, as the other hours run. A wall time that happens
twice (autumn fold) fires once, at its first occurrence, when the hour field names fixed
hours; with a wildcard hour both occurrences fire, since they are different hours.
Instants never repeat: a slot equal to or before the previous one is dropped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qtasks.exc import ConfigError

#: Slots listed at most per call: a schedule every second that was down for a day is
#: not expanded into 86,400 slots (catch-up keeps a window anyway).
MAX_SLOTS = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class Every:
    """Every `seconds` (> 0), on the epoch-aligned grid."""

    seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ConfigError(f"every= must be a positive number of seconds, got {self.seconds!r}")

    def after(self, t: float) -> float:
        return (math.floor(t / self.seconds) + 1) * self.seconds

    def describe(self) -> str:
        return f"every {self.seconds:g}s"


@dataclasses.dataclass(frozen=True)
class Cron:
    """A cron expression in the wall clock of zone `tz`."""

    expression: str
    tz: str = "UTC"

    def __post_init__(self) -> None:
        croniter = _croniter()
        if not isinstance(self.expression, str) or not croniter.is_valid(self.expression):
            raise ConfigError(f"Not a cron expression: {self.expression!r}")
        zone(self.tz)

    @property
    def wildcard_hours(self) -> bool:
        fields = self.expression.split()
        return len(fields) < 2 or "*" in fields[1] or fields[0].startswith("@")

    def after(self, t: float) -> float:
        """The first slot strictly after instant `t`."""
        for slot in self._slots(t):
            return slot
        raise AssertionError("cron iteration ended")  # pragma: no cover - it never does

    def _slots(self, t: float) -> Iterator[float]:
        z = zone(self.tz)
        here = datetime.fromtimestamp(t, z)
        # Where the wall clock is about to step back (autumn), instants after `t` have
        # wall times before `here`: start that much earlier.
        later = datetime.fromtimestamp(t + 3 * 3600, z)
        back = (here.utcoffset() or timedelta()) - (later.utcoffset() or timedelta())
        start = here.replace(tzinfo=None) - max(back, timedelta()) - timedelta(seconds=1)
        walls = _croniter()(self.expression, start)
        last = -math.inf
        while True:
            wall: datetime = walls.get_next(datetime)
            for instant in _instants(wall, z, self.wildcard_hours):
                if instant > t and instant > last:
                    last = instant
                    yield instant

    def describe(self) -> str:
        return f"cron {self.expression!r}" + ("" if self.tz == "UTC" else f" in {self.tz}")


@dataclasses.dataclass(frozen=True)
class Trigger:
    """An APScheduler trigger (`get_next_fire_time(previous, now)`). `previous` is the
    last slot fired, when known: an interval trigger then goes on from it."""

    trigger: Any
    previous: float | None = None

    def after(self, t: float) -> float | None:
        prev = None if self.previous is None else datetime.fromtimestamp(self.previous, UTC)
        now = datetime.fromtimestamp(t, UTC)
        while True:
            fire = self.trigger.get_next_fire_time(prev, now)
            if fire is None:
                return None
            instant = float(fire.timestamp())
            if instant > t:
                return instant
            prev = fire  # a slot at or before t: step past it

    def describe(self) -> str:
        return str(self.trigger)


Timing = Every | Cron | Trigger


def next_slot(timing: Timing, after: float) -> float | None:
    """The first slot strictly after `after` (epoch seconds); None when there is none
    (a date trigger that has fired)."""
    return timing.after(after)


def slots_between(timing: Timing, start: float, end: float) -> list[float]:
    """The slots in (`start`, `end`], in order, at most `MAX_SLOTS` (the latest kept)."""
    out: list[float] = []
    if isinstance(timing, Every):
        first = timing.after(start)
        count = max(0, math.floor((end - first) / timing.seconds) + 1)
        skip = max(0, count - MAX_SLOTS)
        return [first + (i + skip) * timing.seconds for i in range(count - skip)]
    t = start
    while True:
        slot = timing.after(t)
        if slot is None or slot > end:
            return out
        out.append(slot)
        if len(out) > MAX_SLOTS:
            del out[0]
        t = slot


def zone(name: str) -> tzinfo:
    """The IANA zone `name`; `ConfigError` for an unknown one."""
    if name in ("UTC", "utc", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' "
            "(on Windows, pip install tzdata)"
        ) from None


def _instants(wall: datetime, z: tzinfo, wildcard_hours: bool) -> list[float]:
    """The instants at which the naive wall time `wall` happens in zone `z`."""
    first = wall.replace(tzinfo=z, fold=0)
    second = wall.replace(tzinfo=z, fold=1)
    a, b = first.timestamp(), second.timestamp()
    if a == b:
        return [a]
    # The two folds disagree: either a gap (the wall time does not exist: the round
    # trip through UTC lands elsewhere) or a fold (it happens twice).
    exists = first.astimezone(UTC).astimezone(z).replace(tzinfo=None) == wall
    if not exists:
        # fold=0 reads it with the offset before the jump: the instant after the gap.
        return [] if wildcard_hours else [max(a, b)]
    return [min(a, b), max(a, b)] if wildcard_hours else [min(a, b)]


def _croniter() -> Any:
    try:
        from croniter import croniter
    except ImportError:
        raise ConfigError(
            "Cron schedules need croniter: pip install '.[cron]' in a checkout of qtasks"
        ) from None
    return croniter


__all__ = ["MAX_SLOTS", "Cron", "Every", "Timing", "Trigger", "next_slot", "slots_between", "zone"]
