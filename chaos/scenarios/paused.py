"""A worker stopped (SIGSTOP) for twice its lease while it runs tasks, then continued.
Its leases expire meanwhile and a second worker runs those tasks; when the first one
wakes up its (stale) completions must change nothing: every record ends as the second
runner wrote it, and nothing is lost. Runs on the paused worker are explained
duplicates."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

from chaos.harness import Result, until
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context

LEASE = 2.0


def run(ctx: Context) -> Result:
    res = ctx.result("paused")
    with ctx.lab("paused", lease_timeout=LEASE) as lab:
        (first,) = lab.start_workers(1)
        uuids = lab.enqueue(("work", [0.5]) for _ in range(6))
        until(lambda: all(lab.log.refresh().runs_of(u) for u in uuids), 30, "the tasks started")
        lab.interrupt(first, signal.SIGSTOP)
        stopped = time.time()
        second = lab.start_workers(1)[0]
        time.sleep(max(0.0, stopped + 2 * LEASE - time.time()))
        first.send(signal.SIGCONT)
        resumed = time.time()
        finals = lab.wait_done(uuids, timeout=30, settle=2 * LEASE)
        t = tally(uuids, finals, lab.log, lab.interrupted)
        rerun = [u for u in uuids if any(r.pid == second.pid for r in lab.log.runs_of(u))]
        before = [
            u for u in rerun
            if any(r.pid == second.pid and r.end and r.end < resumed for r in lab.log.runs_of(u))
        ]  # fmt: skip
        res.figures.update(run_by_second=len(rerun), second_done_before_resume=len(before))
        if not rerun:
            res.fail("the second worker ran none of the paused worker's tasks")
        if not first.alive():
            res.fail("the paused worker exited after it was continued")
    return res.conclude(t)
