#!/usr/bin/env python3
"""qtasks benchmark: how soon a waiter sees a running task's progress.

    python bench/progress.py                          # every backend below, 20 reports each
    python bench/progress.py --backend redis --reports 50

A worker (an in-process thread) runs one task that reports progress every 0.6 s
(`self.ctx.set_progress`, so each report is written: writes are coalesced to one per
half second); the client waits with `app.wait(uuid, on_progress=...)`. For each report
the delay is the waiter's clock at the callback minus the report's `at` stamp (the same
machine's clock), in ms: p50, p90, max. A waiter that read the record every half second
would show delays spread up to 500 ms (p50 ~250 ms).

Redis: db 14 of 127.0.0.1:6379; PostgreSQL: the database `test`; NATS: 127.0.0.1:4222.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from qtasks import QueueTasks

URLS = {
    "memory": "memory://bench-progress",
    "sqlite": "sqlite:///{tmp}/progress.db",
    "redis": "redis://127.0.0.1:6379/14",
    "postgres": "postgresql://postgres@127.0.0.1:5432/test",
    "nats": "nats://127.0.0.1:4222",
}


def measure(backend: str, reports: int, tmp: str) -> dict[str, Any]:
    url = URLS[backend].format(tmp=tmp)
    app = QueueTasks(name=f"bench_progress_{uuid.uuid4().hex[:8]}", broker_url=url)

    @app.task(echo=True)
    def work(self: Any, n: int) -> int:
        for i in range(n):
            time.sleep(0.6)
            self.ctx.set_progress((i + 1) / n, f"{i + 1}/{n}")
        return n

    delays: list[float] = []

    def seen(task: Any) -> None:
        delays.append((time.time() - task.progress["at"]) * 1000)

    with app.serve():
        task = app.add_task("work", reports)
        done = app.wait(task.uuid, timeout=reports * 2 + 30, on_progress=seen)
        assert done is not None and done.status == "success", done
        app.purge_tasks()
    delays.sort()
    return {
        "backend": backend,
        "reports": reports,
        "seen": len(delays),
        "p50_ms": round(statistics.median(delays), 2),
        "p90_ms": round(delays[int(len(delays) * 0.9) - 1], 2),
        "max_ms": round(delays[-1], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=sorted(URLS), action="append")
    p.add_argument("--reports", type=int, default=20)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("| backend | reports seen | p50 ms | p90 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for backend in args.backend or list(URLS):
            r = measure(backend, args.reports, str(Path(tmp)))
            print(
                f"| {r['backend']} | {r['seen']}/{r['reports']} | {r['p50_ms']} "
                f"| {r['p90_ms']} | {r['max_ms']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
