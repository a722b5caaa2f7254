"""SIGTERM, then SIGINT, to a worker running long tasks. Tasks that fit in
`shutdown_grace` (3 s) finish there and are not run again; longer ones (an async one
and a sync one per round) are released at the end of the grace period and run to
completion on the next worker; the worker exits soon after the grace period.

Round 1 sends SIGTERM to worker A, then starts worker B, which takes the released
tasks; round 2 sends SIGINT to B while it runs them and a new batch, and worker C
finishes the rest. The lease (20 s) is far longer than the scenario's waits: a task
that is not released shows up as lost (or late) instead of being rescued by an expired
lease."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

from chaos.harness import Lab, Result, Worker, until
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context

GRACE = 3.0


def run(ctx: Context) -> Result:
    res = ctx.result("shutdown")
    with ctx.lab("shutdown", lease_timeout=20, shutdown_grace=GRACE) as lab:
        uuids: list[str] = []
        short: set[str] = set()
        worker = lab.start_workers(1)[0]
        for signum in (signal.SIGTERM, signal.SIGINT):
            fits = lab.enqueue([("work", [0.5]), ("sync_work", [1.0]), ("work", [1.5])])
            longer = lab.enqueue([("work", [2 * GRACE]), ("sync_work", [2 * GRACE])])
            uuids += fits + longer
            short.update(fits)
            worker = _signal_round(ctx, lab, res, worker, signum, fits + longer)
        finals = lab.wait_done(uuids, timeout=60, settle=1)
        t = tally(uuids, finals, lab.log, lab.interrupted)
        for u in short:
            if len(lab.log.runs_of(u)) != 1:
                runs = len(lab.log.runs_of(u))
                t.unexplained.append(f"{u}: fitted in the grace period but ran {runs} times")
    return res.conclude(t)


def _signal_round(
    ctx: Context, lab: Lab, res: Result, worker: Worker, signum: int, batch: list[str]
) -> Worker:
    """Wait until `worker` runs all of `batch`, signal it, check how it stopped, and
    return the worker started in its place."""
    name = signal.Signals(signum).name
    until(lambda: all(_running_on(lab, u, worker.pid) for u in batch), 60, f"{name} batch started")
    sent, sent_at = time.monotonic(), time.time()
    lab.interrupt(worker, signum)
    try:
        code = worker.proc.wait(GRACE + 15)
    except Exception:
        res.fail(f"{name}: the worker did not exit within {GRACE + 15:.0f}s")
        worker.kill()
        code = None
    took = time.monotonic() - sent
    res.figures[f"{name}_exit_s"] = round(took, 2)
    if code not in (0, None):
        res.fail(f"{name}: the worker exited with status {code}")
    if took > GRACE + 5:
        res.fail(f"{name}: the worker took {took:.1f}s to exit (grace {GRACE}s)")
    lab.log.refresh()
    for u in batch:
        mine = [r for r in lab.log.runs_of(u) if r.pid == worker.pid]
        ran_long = any(r.end is None for r in mine)
        record = lab.client.get(u)
        status = record.status if record is not None else None
        if ran_long and status != "new":
            res.fail(f"{name}: {u} was cut short but its record is {status!r}, not released")
        if not ran_long and status != "success":
            res.fail(f"{name}: {u} finished in the grace period but its record is {status!r}")
        late = [r.end - sent_at for r in mine if r.end is not None and r.end > sent_at + GRACE]
        if late:
            res.fail(f"{name}: {u} ended {late[0]:.1f}s after the signal (grace {GRACE}s)")
    return lab.start_workers(1)[0]


def _running_on(lab: Lab, uuid: str, pid: int) -> bool:
    lab.log.refresh()
    return any(r.pid == pid for r in lab.log.runs_of(uuid))
