"""A poison task (its body calls `os._exit(1)`) among innocent tasks, on two workers
that the harness restarts like a supervisor whenever one exits. With
`max_deliveries=3` the poison must run at most 3 times and end dead-lettered (record
`error`, listed by `app.dead_letters()`); every innocent must end `success`. Innocents
in flight on a worker the poison killed may run twice (explained)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from chaos.harness import Result, restart_dead
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context

MAX_DELIVERIES = 3


def run(ctx: Context) -> Result:
    res = ctx.result("poison")
    with ctx.lab("poison", lease_timeout=1, max_deliveries=MAX_DELIVERIES) as lab:
        innocents = lab.enqueue(("work", [0.05]) for _ in range(20))
        (poison,) = lab.enqueue([("poison", [])])
        innocents += lab.enqueue(("work", [0.05]) for _ in range(20))
        lab.start_workers(2, wait=False)  # the poison may kill one before it is seen ready
        # Until the poison is settled, or has clearly gone past max_deliveries.
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            restart_dead(lab)
            record = lab.client.get(poison)
            if record is not None and record.status in ("success", "error", "cancel"):
                break
            if len(lab.log.refresh().runs_of(poison)) > MAX_DELIVERIES + 2:
                break
            time.sleep(0.2)
        finals = lab.wait_done(innocents, timeout=8, tick=lambda: restart_dead(lab), settle=1)
        t = tally(innocents, finals, lab.log, lab.interrupted)
        runs = len(lab.log.runs_of(poison))
        record = lab.client.get(poison)
        status = record.status if record is not None else None
        res.figures.update(poison_runs=runs, poison_status=status, restarts=len(lab.interrupted))
        if runs == 0:
            res.fail("the poison never ran")
        if runs > MAX_DELIVERIES:
            res.fail(f"the poison ran {runs} times (max_deliveries={MAX_DELIVERIES})")
        if status != "error":
            res.fail(f"the poison's record is {status!r}, not 'error'")
        if not hasattr(lab.client, "dead_letters"):
            res.fail("app.dead_letters() does not exist")
        elif poison not in {d.uuid for d in lab.client.dead_letters()}:
            res.fail("the poison is not among app.dead_letters()")
    return res.conclude(t, 1)
