"""QTasks 1.7's timers (`qtasks.timers`) over APScheduler triggers: the 1.7 surface, and
two timer processes that fire each trigger time once, an interval going on from the
last slot fired when the leading timer is killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.job import Job
from apscheduler.triggers.cron import CronTrigger

from qtasks import QueueTasks
from qtasks.exc import ConfigError, SerializationError
from qtasks.timers import AsyncTimer, SyncTimer
from qtasks.timers.base import BaseTimer


def test_the_1_7_surface() -> None:
    app = QueueTasks("timers-surface", broker_url="memory://timers-surface")
    timer = SyncTimer(app=app)
    assert isinstance(timer, BaseTimer) and timer.app is app and timer.config is app.config
    trigger = CronTrigger(second="*/5")
    job = timer.add_task(5, task_name="test", trigger=trigger, priority=2, timeout=3)
    assert isinstance(job, Job) and timer.tasks == {"test": trigger}
    assert not timer.scheduler.running  # qtasks fires the slots, not APScheduler
    [schedule] = timer._declared().values()
    assert schedule.args == (5,) and schedule.priority == 2 and schedule.owner == "timer"
    with pytest.raises(TypeError):
        timer.add_task("test", trigger=trigger)  # type: ignore[call-arg]  # task_name= only
    with pytest.raises(ConfigError, match="APScheduler trigger"):
        timer.add_task(task_name="test", trigger="*/5 * * * *")
    with pytest.raises(SerializationError):
        timer.add_task(object(), task_name="test", trigger=trigger)
    assert type(AsyncTimer(app=app).scheduler).__name__ == "AsyncIOScheduler"


PROGRAM = textwrap.dedent(
    """
    from apscheduler.triggers.interval import IntervalTrigger

    from qtasks import QueueTasks
    from qtasks.timers import SyncTimer

    app = QueueTasks("{name}", broker_url="sqlite:///{db}")
    timer = SyncTimer(app=app)
    timer.add_task("x", task_name="job", trigger=IntervalTrigger(seconds=1))
    timer.run_forever()
    """
)
FIRED = re.compile(r"fired: slot (\S+), task (\S+) ")
LEADING = re.compile(r"Scheduler: leading \([^:]+:(\d+):")


@pytest.mark.e2e
def test_two_timers_fire_once_and_an_interval_survives_its_leader(tmp_path: Path) -> None:
    name = f"timers-{uuid.uuid4().hex[:6]}"
    (tmp_path / "timer_prog.py").write_text(PROGRAM.format(name=name, db=tmp_path / "t.db"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", QTASKS_SCHEDULER_LEASE_TTL="1")
    logs = [tmp_path / f"timer-{i}.log" for i in range(2)]
    procs = []
    for i, log in enumerate(logs):
        with open(log, "wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "timer_prog.py"], cwd=tmp_path, env=env, stdout=out, stderr=out
                )
            )
        if i == 0:
            time.sleep(0.4)  # the second timer's IntervalTrigger has another anchor

    def text() -> str:
        return "".join(p.read_text(errors="replace") for p in logs)

    def wait_fires(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(FIRED.findall(text())) < count:
            assert time.monotonic() < deadline, text()
            time.sleep(0.05)

    try:
        wait_fires(3)
        leader = int(LEADING.findall(text())[0])
        [victim] = [p for p in procs if p.pid == leader]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        wait_fires(len(FIRED.findall(text())) + 3)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                p.wait(20)
    by_slot: dict[float, set[str]] = {}
    for stamp, task in FIRED.findall(text()):
        slot = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        by_slot.setdefault(slot, set()).add(task)
    slots = sorted(by_slot)
    assert all(len(tasks) == 1 for tasks in by_slot.values()), by_slot
    # one grid of one-second steps from the first slot, across the take-over
    assert [round(s - slots[0], 3) for s in slots] == [float(i) for i in range(len(slots))]
