"""Slot computation without I/O: cron in a time zone across DST, the every= grid,
catch-up, jitter and slot uuids, the same in every process."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from qtasks.exc import ConfigError
from qtasks.scheduler.model import (
    MISFIRE_GRACE,
    Schedule,
    from_document,
    jitter_of,
    slot_uuid,
    timing_of,
    to_fire,
)
from qtasks.scheduler.slots import MAX_SLOTS, Cron, Every, Trigger, next_slot, slots_between

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(zone: ZoneInfo, *args: int, fold: int = 0) -> float:
    return datetime(*args, tzinfo=zone, fold=fold).timestamp()  # type: ignore[misc]


def walls(slots: list[float], zone: ZoneInfo) -> list[str]:
    return [datetime.fromtimestamp(s, zone).isoformat() for s in slots]


def test_daily_job_in_the_spring_gap_runs_once_shifted_forward() -> None:
    daily = Cron("30 2 * * *", "Europe/Berlin")
    got = slots_between(daily, at(BERLIN, 2026, 3, 28, 12), at(BERLIN, 2026, 3, 30, 12))
    assert walls(got, BERLIN) == [
        "2026-03-29T03:30:00+02:00",  # 02:30 does not exist that night: once, at 03:30
        "2026-03-30T02:30:00+02:00",
    ]


def test_daily_job_in_the_autumn_fold_runs_once_at_its_first_occurrence() -> None:
    daily = Cron("30 2 * * *", "Europe/Berlin")
    got = slots_between(daily, at(BERLIN, 2026, 10, 24, 12), at(BERLIN, 2026, 10, 26, 12))
    assert walls(got, BERLIN) == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    # a scheduler that starts inside the repeated hour does not fire it again
    inside = at(BERLIN, 2026, 10, 25, 2, 40, fold=1)
    assert walls([next_slot(daily, inside) or 0], BERLIN) == ["2026-10-26T02:30:00+01:00"]


def test_hourly_job_follows_real_hours_across_both_transitions() -> None:
    hourly = Cron("30 * * * *", "America/New_York")
    spring = slots_between(hourly, at(NEW_YORK, 2026, 3, 8, 0), at(NEW_YORK, 2026, 3, 8, 4))
    assert walls(spring, NEW_YORK) == [
        "2026-03-08T00:30:00-05:00",
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:30:00-04:00",  # the 02:xx hour does not exist
    ]
    autumn = slots_between(hourly, at(NEW_YORK, 2026, 11, 1, 0), at(NEW_YORK, 2026, 11, 1, 3))
    assert walls(autumn, NEW_YORK) == [
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",  # the repeated hour is a real hour: it fires
        "2026-11-01T02:30:00-05:00",
    ]
    assert all(b - a == 3600 for a, b in itertools.pairwise(autumn))


def test_cron_with_seconds_and_utc_default() -> None:
    every_5s = Cron("* * * * * */5")
    assert slots_between(every_5s, 1_800_000_000, 1_800_000_012) == [
        1_800_000_005.0,
        1_800_000_010.0,
    ]
    assert Cron("0 3 * * *").describe() == "cron '0 3 * * *'"


def test_every_is_an_epoch_aligned_grid() -> None:
    assert slots_between(Every(30), 100, 200) == [120.0, 150.0, 180.0]
    assert next_slot(Every(30), 120) == 150.0
    assert slots_between(Every(1), 0, 10 * MAX_SLOTS)[-1] == 10 * MAX_SLOTS
    assert len(slots_between(Every(1), 0, 10 * MAX_SLOTS)) == MAX_SLOTS
    assert timing_of(None, timedelta(minutes=1), None) == Every(60.0)


@pytest.mark.parametrize(
    ("cron", "every", "tz", "match"),
    [
        (None, None, None, "exactly one"),
        ("* * * * *", 5, None, "exactly one"),
        ("not cron", None, None, "Not a cron"),
        ("* * * * *", None, "Mars/Olympus", "Unknown time zone"),
        (None, 0, None, "positive"),
        (None, 5, "UTC", "tz= applies"),
    ],
)
def test_bad_timings_are_refused(
    cron: str | None, every: float | None, tz: str | None, match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        timing_of(cron, every, tz)


def test_policies_are_checked() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        Schedule("s", "t", Every(1), overlap="queue")
    with pytest.raises(ConfigError, match="catch_up"):
        Schedule("s", "t", Every(1), catch_up="some")
    with pytest.raises(ConfigError, match="jitter"):
        Schedule("s", "t", Every(1), jitter=-1)


def test_catch_up_policies() -> None:
    missed = [float(s) for s in range(0, 1000, 10)]  # slots 0..990, now 1000
    all_ = Schedule("s", "t", Every(10), catch_up="all", catch_up_window=100)
    fired, dropped = to_fire(all_, missed, 1000)
    assert fired == [900.0, 910.0, 920.0, 930.0, 940.0, 950.0, 960.0, 970.0, 980.0, 990.0]
    assert dropped == 90
    last = Schedule("s", "t", Every(10), catch_up="last")
    assert to_fire(last, missed, 1000) == ([990.0], 99)
    none = Schedule("s", "t", Every(10), catch_up="none")
    assert to_fire(none, missed, 1000) == ([], 100)
    assert to_fire(none, [999.0], 999 + MISFIRE_GRACE) == ([999.0], 0)


def test_slot_identity_and_jitter_are_the_same_everywhere() -> None:
    assert slot_uuid("app", "report", 1800000000.0) == slot_uuid("app", "report", 1800000000.0)
    assert slot_uuid("app", "report", 1800000000.0) != slot_uuid("app", "report", 1800000001.0)
    assert slot_uuid("app", "report", 1.0) != slot_uuid("other", "report", 1.0)
    spread = Schedule("s", "t", Every(60), jitter=30)
    delays = [jitter_of(spread, 60.0 * i) for i in range(200)]
    assert all(0 <= d < 30 for d in delays)
    assert len(set(delays)) > 150  # spread, not one value
    assert delays == [jitter_of(spread, 60.0 * i) for i in range(200)]
    assert jitter_of(Schedule("s", "t", Every(60)), 60.0) == 0.0


def test_documents_round_trip() -> None:
    schedule = Schedule(
        "report", "make_report", Cron("0 3 * * *", "Europe/Berlin"), (1, "x"), {"k": [1]},
        priority=3, queue="reports", overlap="allow", catch_up="last", jitter=5,
    )  # fmt: skip
    assert from_document("report", schedule.document()) == schedule
    every = Schedule("poll", "poll", Every(30))
    assert from_document("poll", every.document()) == every


def test_apscheduler_triggers_give_slots() -> None:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    start = 1_800_000_000.0
    cron = Trigger(CronTrigger(second="*/5", timezone="UTC"))
    assert slots_between(cron, start, start + 12) == [start + 5, start + 10]
    interval = Trigger(IntervalTrigger(seconds=7), previous=start)
    assert slots_between(interval, start, start + 15) == [start + 7, start + 14]
    once = Trigger(DateTrigger(datetime.fromtimestamp(start + 3).astimezone()))
    assert slots_between(once, start, start + 100) == [start + 3]
    assert next_slot(once, start + 3) is None
