"""The scheduler on a fake clock, against real backends: each slot once even with two
leaders at once, catch-up after a leader dies, the overlap policies, pause and resume,
and the apps' schedule API. No test sleeps through the slots it checks."""

from __future__ import annotations

import asyncio
import math
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import qtasks
import qtasks.asyncio
from qtasks.backends import Backend, create_backend
from qtasks.configs import QueueConfig
from qtasks.core.status import SUCCESS
from qtasks.exc import ConfigError
from qtasks.logs import Logger
from qtasks.scheduler import Every, Schedule, Scheduler
from qtasks.scheduler.model import MISFIRE_GRACE, slot_uuid

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


class FakeClock:
    """Epoch seconds that move only when told (starting at a whole second of now)."""

    def __init__(self) -> None:
        self.t = float(math.floor(time.time())) + 0.5

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    url = {
        "memory": f"memory://sched-{uuid.uuid4().hex[:8]}",
        "sqlite": f"sqlite:///{tmp_path}/sched.db",
        "redis": REDIS_URL,
        "postgres": PG_URL,
    }[request.param]
    made = create_backend(
        url, namespace=f"sched-{uuid.uuid4().hex[:8]}", config=QueueConfig(), log=Logger("t")
    )
    yield made
    await made.purge()
    for collection in ("schedules", "schedule-runs", "scheduler"):
        for key in await made.list_documents(collection):  # type: ignore[attr-defined]
            await made.delete_document(collection, key)  # type: ignore[attr-defined]
    await made.close()


def scheduler(
    backend: Backend,
    clock: FakeClock,
    schedules: list[Schedule],
    lease: str = "scheduler",
    ttl: float = 10.0,
) -> Scheduler:
    return Scheduler(
        backend,
        app_name="app",
        log=Logger("sched"),
        declared=lambda: {s.id: s for s in schedules},
        find_task=lambda name: None,
        lease_ttl=ttl,
        lease=lease,
        clock=clock,
        use_backend_clock=False,
    )


async def queued(backend: Backend) -> list[Any]:
    got = await backend.fetch("default", 1000, 60, "check", 0)
    await backend.release(got)
    return sorted((d.record for d in got), key=lambda r: r.extra["slot"])


async def run_for(clock: FakeClock, seconds: float, *schedulers: Scheduler) -> None:
    """Tick every scheduler until the fake clock has moved `seconds` on, stepping it to
    the earliest wake-up any of them asked for."""
    end = clock.t + seconds
    for s in schedulers:
        await s.publish()
    while clock.t < end:
        pauses = [await s.tick() for s in schedulers]
        clock.t = min(end, clock.t + min(pauses))
    for s in schedulers:
        await s.tick()


async def test_two_leaders_at_once_enqueue_each_slot_once(backend: Backend) -> None:
    clock = FakeClock()
    every = [Schedule("tick", "tick", Every(1), overlap="allow")]
    # Two leases: both lead, as in a partition or a paused process whose lease ran out.
    a, b = scheduler(backend, clock, every, "a"), scheduler(backend, clock, every, "b")
    await run_for(clock, 10, a, b)
    records = await queued(backend)
    slots = [r.extra["slot"] for r in records]
    assert len(slots) == len(set(slots)) == 10
    assert slots == [math.floor(clock.t) - 9 + i for i in range(10)]
    assert {r.uuid for r in records} == {slot_uuid("app", "tick", s) for s in slots}
    assert a.fired + b.fired == 20  # both enqueued every slot; each is one task


async def test_a_new_leader_catches_up_the_slots_of_the_take_over(backend: Backend) -> None:
    clock = FakeClock()
    every = [Schedule("tick", "tick", Every(1), overlap="allow")]
    first = scheduler(backend, clock, every, ttl=0.3)
    second = scheduler(backend, clock, every, ttl=0.3)
    await run_for(clock, 3, first)
    assert first.leading and await second.tick() > 0 and not second.leading
    # the leader dies: its lease runs out (real time), 20 s of slots pass meanwhile
    await asyncio.sleep(0.5)
    clock.t += 20
    await run_for(clock, 2, second)
    slots = [r.extra["slot"] for r in await queued(backend)]
    assert second.leading
    assert len(slots) == len(set(slots)) == 25
    assert slots == sorted(slots) and slots[-1] - slots[0] == 24  # none missing


async def test_catch_up_last_and_none_after_downtime(backend: Backend) -> None:
    clock = FakeClock()
    last = Schedule("last", "tick", Every(1), overlap="allow", catch_up="last")
    none = Schedule("none", "tick", Every(1), overlap="allow", catch_up="none")
    first = scheduler(backend, clock, [last, none], ttl=0.3)
    await run_for(clock, 2, first)
    await asyncio.sleep(0.5)
    clock.t += 30
    second = scheduler(backend, clock, [last, none], ttl=0.3)
    await second.publish()
    await second.tick()
    records = await queued(backend)
    by = {
        sid: [r.extra["slot"] for r in records if r.extra["schedule"] == sid]
        for sid in ("last", "none")
    }
    assert len(by["last"]) == 3  # two before, then only the latest of the 30 missed
    assert by["last"][-1] == math.floor(clock.t)
    # two before, then only the slots at most MISFIRE_GRACE late (the clock is at x.5)
    assert len(by["none"]) == 2 + 2
    assert all(clock.t - slot <= MISFIRE_GRACE for slot in by["none"][2:])


async def test_overlap_skip_and_buffer_one(backend: Backend) -> None:
    clock = FakeClock()
    skip = Schedule("skip", "tick", Every(1))
    buffer = Schedule("buffer", "tick", Every(1), overlap="buffer_one")
    s = scheduler(backend, clock, [skip, buffer])
    await run_for(clock, 4, s)  # nothing runs them: each first run stays queued
    records = await queued(backend)
    assert [r.extra["schedule"] for r in records].count("skip") == 1
    assert [r.extra["schedule"] for r in records].count("buffer") == 1
    # the first runs finish: the buffered slot fires at the next tick, once
    for record in records:
        record.status = SUCCESS
    await backend.put(records)
    await s.tick()
    first = {r.uuid: r.extra["slot"] for r in records if r.extra["schedule"] == "buffer"}
    after = [r for r in await queued(backend) if r.uuid not in first]
    buffered = [r for r in after if r.extra["schedule"] == "buffer"]
    assert len(buffered) == 1
    assert buffered[0].extra["slot"] == next(iter(first.values())) + 1  # the first skipped slot
    before = {r.uuid for r in records}
    assert not [r for r in after if r.extra["schedule"] == "skip" and r.uuid not in before]


async def test_paused_schedules_do_not_fire_and_resume_from_now(backend: Backend) -> None:
    clock = FakeClock()
    every = [Schedule("tick", "tick", Every(1), overlap="allow")]
    s = scheduler(backend, clock, every)
    await run_for(clock, 2, s)
    app = qtasks.asyncio.QueueTasks("pauser", broker=backend)
    await app.pause_schedule("tick")
    [info] = await app.schedules()
    assert info.paused and info.next_run is None
    clock.t += 2  # the scheduler reads the stored schedules again within a second
    await run_for(clock, 5, s)
    assert len(await queued(backend)) == 2
    await app.resume_schedule("tick")
    # the resume is stamped with the real clock: restamp it with the fake one
    doc = await backend.get_document("schedules", "tick")  # type: ignore[attr-defined]
    await backend.put_document("schedules", "tick", {**doc, "resumed_at": clock.t})  # type: ignore[attr-defined]
    await run_for(clock, 3, s)
    slots = [r.extra["slot"] for r in await queued(backend)]
    assert len(slots) == 2 + 3  # the paused slots are not caught up
    with pytest.raises(KeyError):
        await app.pause_schedule("nope")


def test_sync_app_manages_schedules_from_any_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    declaring = qtasks.QueueTasks("apps", broker_url=url)

    @declaring.task(schedule="0 3 * * *")
    def nightly() -> None: ...

    @declaring.task(schedule={"every": 30, "args": (1,), "overlap": "allow"})
    def poll(n: int) -> int:
        return n

    declaring.schedule("report", "nightly", cron="0 3 * * *", tz="Europe/Berlin", jitter=5)
    listed = {s.id: s for s in declaring.schedules()}
    assert set(listed) == {"nightly", "poll", "report"}
    assert listed["poll"].timing == "every 30s" and listed["poll"].args == (1,)
    assert listed["report"].timing == "cron '0 3 * * *' in Europe/Berlin"
    upcoming = listed["report"].next_run
    assert upcoming is not None and upcoming.tzinfo is not None
    berlin = upcoming.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert (berlin.hour, berlin.minute) == (3, 0) and upcoming.timestamp() > time.time()
    # another process (another app object, no declarations) sees and manages them
    other = qtasks.QueueTasks("apps", broker_url=url)
    other.pause_schedule("report")
    assert {s.id: s.paused for s in other.schedules()} == {
        "nightly": False, "poll": False, "report": True,
    }  # fmt: skip
    # declaring again (a restart) keeps the pause
    assert {s.id: s.paused for s in declaring.schedules()}["report"] is True
    task_uuid = other.run_schedule_now("poll")
    task = declaring.get(task_uuid)
    assert task is not None and task.task_name == "poll" and list(task.args) == [1]
    assert other.remove_schedule("nightly") is True
    assert other.remove_schedule("nightly") is False
    assert {s.id for s in other.schedules()} == {"poll", "report"}


def test_bad_schedule_options_fail_at_declaration() -> None:
    app = qtasks.QueueTasks("bad", broker_url="memory://bad")
    with pytest.raises(ConfigError, match="Not a cron"):

        @app.task(schedule="every day")
        def one() -> None: ...

    with pytest.raises(ConfigError, match="schedule="):

        @app.task(schedule=[1])
        def two() -> None: ...

    with pytest.raises(ConfigError, match="exactly one"):
        app.schedule("x")


def test_worker_start_up_line_says_whether_it_runs_the_scheduler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = qtasks.QueueTasks("lines", broker_url=f"memory://lines-{uuid.uuid4().hex[:6]}")
    for enabled, word in ((None, "scheduler=on"), (False, "scheduler=off")):
        app.config.scheduler = enabled is None
        caplog.clear()
        with caplog.at_level("INFO"):
            app.start_in_background()
            app.stop()
        [line] = [r.getMessage() for r in caplog.records if "Starting app" in r.getMessage()]
        assert line.endswith(word), line


async def test_a_schedule_that_cannot_fire_does_not_stop_the_others(backend: Backend) -> None:
    clock = FakeClock()
    good = Schedule("good", "tick", Every(1), overlap="allow")
    s = scheduler(backend, clock, [good])
    await s.publish()
    broken = {**Schedule("broken", "tick", Every(1)).document(), "priority": 2**60}
    unreadable = {"task": "tick", "cron": "not a cron"}
    for sid, doc in (("broken", broken), ("unreadable", unreadable)):
        await backend.put_document("schedules", sid, {**doc, "created_at": clock.t})  # type: ignore[attr-defined]
    await run_for(clock, 3, s)
    records = await queued(backend)
    assert {r.extra["schedule"] for r in records} == {"good"} and len(records) == 3


async def test_a_day_of_downtime_fires_only_the_catch_up_window(backend: Backend) -> None:
    clock = FakeClock()
    every = [Schedule("tick", "tick", Every(1), overlap="allow", catch_up_window=60)]
    first = scheduler(backend, clock, every, ttl=0.3)
    await run_for(clock, 1, first)
    await asyncio.sleep(0.5)
    clock.t += 24 * 3600
    second = scheduler(backend, clock, every, ttl=0.3)
    began = time.monotonic()
    await second.tick()
    assert time.monotonic() - began < 5  # the day's 86,400 slots are not listed
    slots = [r.extra["slot"] for r in await queued(backend)]
    late = [s for s in slots if s > clock.t - 3600]
    assert len(late) == 60 and all(clock.t - s <= 60 for s in late)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (  # spring forward: 02:30 does not exist on the 29th; it runs once, at 03:30
            ((2026, 3, 28, 12), (2026, 3, 30, 12)),
            ["2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"],
        ),
        (  # fall back: 02:30 happens twice on the 25th; it runs once, the first time
            ((2026, 10, 24, 12), (2026, 10, 26, 12)),
            ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        ),
    ],
    ids=["spring", "autumn"],
)
async def test_a_daily_job_across_dst_on_a_fake_clock(
    backend: Backend, days: tuple[tuple[int, ...], tuple[int, ...]], expected: list[str]
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from qtasks.scheduler import Cron

    berlin = ZoneInfo("Europe/Berlin")
    start, end = (datetime(*d, tzinfo=berlin).timestamp() for d in days)  # type: ignore[misc]
    clock = FakeClock()
    clock.t = start
    daily = Schedule(
        "daily",
        "report",
        Cron("30 2 * * *", "Europe/Berlin"),
        overlap="allow",
        catch_up_window=3600,
    )
    s = scheduler(backend, clock, [daily])
    await s.publish()
    while clock.t < end:  # a tick every 20 minutes of fake time: slots fire late, once
        await s.tick()
        clock.t += 1200
    fired = [r.extra["slot"] for r in await queued(backend)]
    assert [datetime.fromtimestamp(f, berlin).isoformat() for f in fired] == expected


def test_router_and_shared_tasks_declare_schedules_too(caplog: pytest.LogCaptureFixture) -> None:
    from qtasks.routers import SyncRouter

    app = qtasks.QueueTasks("routed", broker_url=f"memory://routed-{uuid.uuid4().hex[:6]}")
    router = SyncRouter()

    @router.task(schedule=60)
    def every_minute() -> None: ...

    @router.task(schedule="not cron")
    def broken() -> None: ...

    app.include_router(router)
    with caplog.at_level("WARNING"):
        listed = {s.id: s.timing for s in app.schedules()}
    assert listed == {"every_minute": "every 60s"}
    assert any("'broken': its schedule= is ignored" in r.getMessage() for r in caplog.records)
