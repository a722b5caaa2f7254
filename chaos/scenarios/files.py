"""The SQLite database files (the database, its -wal and -shm) deleted under two
running workers, then more tasks enqueued by a new client, which creates a new file at
the same path. Those tasks must not be lost: either the workers notice and run them, or
the failure is loud (the enqueue raises, or the workers exit with an error naming the
file and, restarted by the harness like a supervisor, run them from the new file).
Workers that keep polling the deleted file while the new tasks wait forever fail."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from chaos.harness import Result, restart_dead
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context


def run(ctx: Context) -> Result:
    res = ctx.result("files")
    with ctx.lab("files") as lab:
        workers = lab.start_workers(2)
        before = lab.enqueue(("work", [0.01]) for _ in range(20))
        lab.wait_done(before, timeout=30)
        path = lab.url.removeprefix("sqlite:///")
        lab.close_client()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        try:
            after = lab.enqueue(("work", [0.01]) for _ in range(20))
        except Exception as exc:
            res.notes.append(f"the enqueue after the deletion raised {exc!r} (loud)")
            after = []
        finals = lab.wait_done(after, timeout=8, tick=lambda: restart_dead(lab), settle=1)
        t = tally(after, finals, lab.log, lab.interrupted)
        ran = sum(1 for u in after if lab.log.runs_of(u))
        exited = [w for w in workers if w.proc.poll() is not None]
        res.figures.update(
            ran_after_deletion=ran,
            workers_exited=len(exited),
            exits_naming_the_file=sum(1 for w in exited if path in w.log()),
        )
    if t.lost and not exited:
        res.notes.append(
            f"{ran} of {len(after)} tasks enqueued after the deletion ran, {len(t.lost)} did"
            " not end 'success' in the new file; no worker exited (nothing loud)"
        )
    return res.conclude(t)
