"""The target's server restarted twice under load, once shut down cleanly and once
killed (Redis: SHUTDOWN by SIGTERM, then SIGKILL, its append-only file fsynced on every
write; PostgreSQL: a fast shutdown, then SIGKILL to all its processes, fsync on): every
task whose `add_task` returned must end `success` and have run; the client and the
workers must carry on after each restart. The lease (5 s) is longer than the outage,
so no lease expires in it and a duplicate is unexplained."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

from chaos.harness import Result
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context


def run(ctx: Context) -> Result:
    res = ctx.result("restart")
    seconds = 60.0 if ctx.long else 10.0
    with ctx.lab("restart", lease_timeout=5) as lab:
        workers = lab.start_workers(3)
        acked_path = lab.dir / "acked.log"
        client = lab.spawn(
            [sys.executable, "-m", "chaos.client", str(acked_path), str(seconds)], "client.log"
        )
        restarts = [("term", seconds * 0.25), ("kill", seconds * 0.6)]
        began = time.monotonic()
        back_at = 0.0
        for how, at in restarts:
            time.sleep(max(0.0, began + at - time.monotonic()))
            ctx.target.restart(how, down=1.5)
            back_at = time.time()
        client.wait(seconds + 60)
        summary = _summary(lab.dir / "client.log")
        acked = [line.split() for line in acked_path.read_text().splitlines() if line]
        uuids = [u for u, _ in acked]
        finals = lab.wait_done(uuids, timeout=120, settle=2)
        t = tally(uuids, finals, lab.log, lab.interrupted)
        after = sum(1 for _, at in acked if float(at) > back_at)
        ran_after = sum(1 for runs in lab.log.runs.values() for r in runs if r.start > back_at)
        dead = [w.pid for w in workers if not w.alive()]
    res.figures.update(
        client_errors=summary.get("errors"),
        acked_after_last_restart=after,
        runs_after_last_restart=ran_after,
    )
    if summary.get("last_error"):
        res.notes.append(f"client's last error: {summary['last_error']}")
    if not after:
        res.fail("the client enqueued nothing after the last restart")
    if not ran_after:
        res.fail("no task ran after the last restart")
    if dead:
        res.fail(f"workers {dead} exited")
    return res.conclude(t)


def _summary(path: object) -> dict[str, object]:
    with open(str(path)) as f:
        for text in reversed(f.read().splitlines()):
            if text.startswith("{"):
                data: dict[str, object] = json.loads(text)
                return data
    return {}
