"""SIGKILL storm: 3 workers run a backlog while the harness kills one at a time
(at evenly spaced points of progress) and starts a replacement at once. Nothing may be
lost; a task may run twice only if one of its runs was on a killed worker and the
record is not from that run."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from chaos.harness import Result
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context


def run(ctx: Context) -> Result:
    tasks, kills = (40_000, 40) if ctx.long else (2_000, 5)
    res = ctx.result("sigkill")
    with ctx.lab("sigkill", lease_timeout=2) as lab:
        workers = lab.start_workers(3)
        uuids = lab.enqueue(("work", [ctx.rng.choice((0.005, 0.01, 0.02))]) for _ in range(tasks))
        marks = [tasks * (k + 1) // (kills + 1) for k in range(kills)]
        done_kills: list[int] = []

        def tick() -> None:
            # Kill at the next progress mark, a worker with tasks in flight if any.
            lab.log.refresh()
            if marks and len(lab.log.ended) >= marks[0]:
                marks.pop(0)
                live = lab.live()
                busy = [w for w in live if lab.log.in_flight(w.pid)] or live
                victim = ctx.rng.choice(busy)
                lab.interrupt(victim, signal.SIGKILL)
                victim.kill()
                done_kills.append(len(lab.log.in_flight(victim.pid)))
                workers.append(lab.start_worker(victim.slot))

        finals = lab.wait_done(uuids, timeout=600 if ctx.long else 120, tick=tick, settle=3)
        t = tally(uuids, finals, lab.log, lab.interrupted)
    res.tasks, res.lost, res.explained, res.unexplained = (
        t.tasks, len(t.lost), t.explained, len(t.unexplained),
    )  # fmt: skip
    res.figures["kills"] = len(done_kills)
    res.figures["in_flight_at_kills"] = sum(done_kills)
    res.notes += t.lost[:5] + t.unexplained[:5]
    res.verdict = "PASS" if t.ok and len(done_kills) == kills else "FAIL"
    if len(done_kills) < kills:
        res.notes.append(f"only {len(done_kills)} of {kills} kills happened")
    return res
