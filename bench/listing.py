#!/usr/bin/env python3
"""Listing a page of 50 tasks out of many records, by status and by task name, on
SQLite, Redis and PostgreSQL (the inspection port, `app.list_tasks`).

    python bench/listing.py [--backend sqlite,redis,postgres] [-n 1000000] [-r 200]
        [--redis redis://127.0.0.1:6379/0] [--pg postgresql://postgres@127.0.0.1:5432/test]

Loads `-n` records into a fresh namespace (SQLite: a new file; PostgreSQL: a new
schema, dropped at the end; Redis: a new namespace, purged at the end): 10 task names
in turn; statuses 80 % success, 10 % error, 10 % new (queued). Finished records are
stored as the result store stores them (`put`, a long time to live), queued ones are
enqueued. Then times `-r` listings of each kind through the sync app (a first page, and
the page after a cursor) and prints the median and 90th percentile in milliseconds.
The target: p50 under 20 ms with 1,000,000 records.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtasks import QueueTasks
from qtasks.configs import QueueConfig
from qtasks.core.models import TaskRecord
from qtasks.core.status import ERROR, NEW, SUCCESS

NAMES = [f"task_{i}" for i in range(10)]
CHUNK = 2000


def status_of(i: int) -> str:
    return NEW if i % 10 == 0 else ERROR if i % 10 == 1 else SUCCESS


def load(app: Any, n: int) -> None:
    """`n` records, oldest first, in chunks: finished ones put, queued ones enqueued."""
    start = time.time() - n * 0.001
    for first in range(0, n, CHUNK):
        finished, queued = [], []
        for i in range(first, min(n, first + CHUNK)):
            at = start + i * 0.001
            status = status_of(i)
            record = TaskRecord(
                uuid=str(uuid.uuid4()), task_name=NAMES[i % len(NAMES)], priority=0,
                args=[i], kwargs={}, status=status, created_at=at, updated_at=at,
                returning=i if status == SUCCESS else None,
                traceback="ValueError: bench" if status == ERROR else None,
            )  # fmt: skip
            (queued if status == NEW else finished).append(record)
        app.backend.put_sync(finished)
        app.backend.enqueue_sync(queued)


def timed(call: Callable[[], Any], repeats: int) -> tuple[float, float]:
    call()  # warm: connections, prepared statements, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def measure(app: Any, repeats: int) -> dict[str, tuple[float, float]]:
    out = {}
    for label, filters in (
        ("status=error", {"status": ERROR}),
        ("task_name=task_3", {"task_name": "task_3"}),
        ("status=new", {"status": NEW}),
        ("no filter", {}),
    ):
        first = app.list_tasks(limit=50, **filters)
        assert len(first) == 50, (label, len(first))
        out[label] = timed(lambda f=filters: app.list_tasks(limit=50, **f), repeats)
        cursor = first.cursor
        out[label + ", next page"] = timed(
            lambda f=filters, c=cursor: app.list_tasks(limit=50, cursor=c, **f), repeats
        )
    return out


def run(kind: str, url: str, n: int, repeats: int) -> None:
    name = f"bench-listing-{uuid.uuid4().hex[:6]}"
    app = QueueTasks(name=name, broker_url=url, config=QueueConfig(result_ttl=7 * 86400))
    try:
        t0 = time.perf_counter()
        load(app, n)
        loaded = time.perf_counter() - t0
        results = measure(app, repeats)
    finally:
        app.flush_all()
    print(f"\n{kind}: {n} records (loaded in {loaded:.1f} s), {repeats} listings each")
    print("| listing 50 | p50 ms | p90 ms |\n|---|---:|---:|")
    for label, (p50, p90) in results.items():
        print(f"| {label} | {p50:.2f} | {p90:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite,redis,postgres")
    parser.add_argument("-n", type=int, default=1_000_000, help="records to load")
    parser.add_argument("-r", type=int, default=200, help="listings timed per kind")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    for kind in args.backend.split(","):
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run(kind, f"sqlite:///{Path(tmp) / 'listing.db'}", args.n, args.r)
        elif kind == "redis":
            run(kind, args.redis, args.n, args.r)
        elif kind == "postgres":
            schema = f"bench_listing_{uuid.uuid4().hex[:6]}"
            try:
                run(kind, f"{args.pg}?schema={schema}", args.n, args.r)
            finally:
                import psycopg

                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        else:
            raise SystemExit(f"unknown backend {kind!r}")


if __name__ == "__main__":
    main()
