"""An async task that blocks its event loop with `time.sleep` for three times the
lease (1 s), on one of two workers. The worker cannot renew the lease while its loop
is blocked; the task must still run once (and end `success`), not be taken by the
other worker when the lease runs out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.harness import Result, until
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context

LEASE = 1.0


def run(ctx: Context) -> Result:
    res = ctx.result("blocking")
    with ctx.lab("blocking", lease_timeout=LEASE) as lab:
        lab.start_workers(2)
        blockers = lab.enqueue([("blocker", [3 * LEASE])])
        others = lab.enqueue(("work", [0.05]) for _ in range(20))
        until(lambda: lab.log.refresh().runs_of(blockers[0]), 30, "the blocker started")
        finals = lab.wait_done(blockers + others, timeout=30, settle=3 * LEASE)
        t = tally(blockers + others, finals, lab.log, lab.interrupted)
        runs = lab.log.runs_of(blockers[0])
        res.figures["blocker_runs"] = len(runs)
        if len(runs) != 1:
            res.fail(f"the blocking task ran {len(runs)} times, on pids {[r.pid for r in runs]}")
    return res.conclude(t)
