"""SIGKILL storm: 3 workers run a backlog while the harness kills one at a time
(at evenly spaced points of progress) and starts a replacement at once. Nothing may be
lost; a task may run twice only if one of its runs was on a killed worker and the
record is not from that run."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

from chaos.harness import Result
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context


def run(ctx: Context) -> Result:
    tasks, kills = (40_000, 40) if ctx.long else (2_000, 5)
    res = ctx.result("sigkill")
    with ctx.lab("sigkill", lease_timeout=2) as lab:
        lab.start_workers(3)
        durations = (0.02, 0.05, 0.1)
        uuids = lab.enqueue(("work", [ctx.rng.choice(durations)]) for _ in range(tasks))
        marks = [tasks * (k + 1) // (kills + 1) for k in range(kills)]
        in_flight: list[int] = []
        # The storm: at each progress mark, kill a worker with tasks in flight (if any)
        # and start its replacement at once, like a supervisor.
        deadline = time.monotonic() + (600 if ctx.long else 120)
        while marks and time.monotonic() < deadline:
            if len(lab.log.refresh().ended) < marks[0]:
                time.sleep(0.02)
                continue
            marks.pop(0)
            live = lab.live()
            busy = [w for w in live if lab.log.in_flight(w.pid)]
            victim = ctx.rng.choice(busy or live)
            lab.interrupt(victim, signal.SIGKILL)
            victim.kill()
            in_flight.append(len(lab.log.refresh().in_flight(victim.pid)))
            lab.start_worker(victim.slot)
        finals = lab.wait_done(uuids, timeout=600 if ctx.long else 120, settle=3)
        t = tally(uuids, finals, lab.log, lab.interrupted)
    hits = sum(1 for n in in_flight if n)
    res.figures.update(kills=len(in_flight), kills_with_tasks_in_flight=hits)
    res.figures["in_flight_at_kills"] = sum(in_flight)
    if len(in_flight) < kills:
        res.fail(f"only {len(in_flight)} of {kills} kills happened")
    if hits * 2 < kills:
        res.fail(f"only {hits} of {kills} kills hit a worker with tasks in flight: a weak storm")
    return res.conclude(t)
