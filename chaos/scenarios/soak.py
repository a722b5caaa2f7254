"""A soak (--long only): 100,000 short tasks through 3 workers, enqueued in batches
while they run. Nothing may be lost or run twice, and each worker's resident memory
must stay flat: sampled every 2 s, its growth from the sample taken at 10 % of the run
(after warm-up) to the last one must stay under 16 MiB and 15 %."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from chaos.harness import Result
from chaos.verdict import rss_kib, tally

if TYPE_CHECKING:
    from chaos.scenarios import Context

TASKS = 100_000
BATCH = 1_000


def run(ctx: Context) -> Result:
    res = ctx.result("soak")
    with ctx.lab("soak", lease_timeout=10) as lab:
        workers = lab.start_workers(3)
        samples: dict[int, list[tuple[int, int]]] = {w.pid: [] for w in workers}
        last = [0.0]

        def sample() -> None:
            if time.monotonic() - last[0] < 2:
                return
            last[0] = time.monotonic()
            done = len(lab.log.refresh().ended)
            for w in workers:
                kib = rss_kib(w.pid)
                if kib is not None:
                    samples[w.pid].append((done, kib))

        uuids: list[str] = []
        for start in range(0, TASKS, BATCH):
            uuids += lab.enqueue(("work", [0.0]) for _ in range(min(BATCH, TASKS - start)))
            lab.log.refresh()
            sample()
        finals = lab.wait_done(uuids, timeout=1800, tick=sample, settle=1)
        last[0] = 0.0
        sample()
        t = tally(uuids, finals, lab.log, lab.interrupted)
        for w in workers:
            points = samples[w.pid]
            if not points:
                res.fail(f"worker {w.pid}: no memory samples")
                continue
            warm = next((kib for done, kib in points if done >= TASKS // 10), points[0][1])
            first, end = points[0][1], points[-1][1]
            res.figures[f"rss_kib_worker{w.slot}"] = {"start": first, "warm": warm, "end": end}
            if end - warm > min(16 * 1024, warm * 0.15):
                res.fail(f"worker {w.pid}: RSS grew from {warm} KiB to {end} KiB")
            if not w.alive():
                res.fail(f"worker {w.pid} exited")
    return res.conclude(t)
