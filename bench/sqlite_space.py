#!/usr/bin/env python3
"""Disk space of a SQLite backend file before and after its records expire.

    python bench/sqlite_space.py                      # 200,000 tasks, in a temp dir
    python bench/sqlite_space.py --n 50000 --keep DIR

Enqueues N tasks, leases and completes them in batches (as a worker does, results
kept for --ttl seconds), waits until they expire, then calls the backend's upkeep
(`expire()`, what every worker runs every few seconds) until nothing changes. Prints
the size of the database file and of its write-ahead log (`-wal`) at each stage, and
the longest upkeep call. Stdlib + qtasks only; runs against whatever `qtasks` is
importable (set PYTHONPATH to measure another checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from qtasks.backends import Backend
from qtasks.backends.sqlite import SqliteBackend
from qtasks.configs import QueueConfig
from qtasks.core.models import Completion
from qtasks.core.records import new_record
from qtasks.core.status import SUCCESS
from qtasks.logs import Logger


def sizes(path: Path) -> str:
    def mb(p: Path) -> float:
        return p.stat().st_size / 1e6 if p.exists() else 0.0

    wal = Path(f"{path}-wal")
    return f"file {mb(path):6.1f} MB, WAL {mb(wal):6.1f} MB"


def rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM qtasks_tasks").fetchone()[0])


async def fill(backend: Backend, n: int, batch: int) -> None:
    """Enqueue `n` tasks, lease and complete them `batch` at a time, as a worker does."""
    for start in range(0, n, batch):
        count = min(batch, n - start)
        records = [
            new_record("noop", [start + i], {}, None, spec=None, default_priority=0)
            for i in range(count)
        ]
        await backend.enqueue(records)
        got = await backend.fetch("default", count, 60.0, "space-bench", 0.0)
        done = []
        for delivery in got:
            record = delivery.record
            record.status, record.returning = SUCCESS, record.args[0]
            done.append(Completion(delivery, record))
        await backend.complete(done)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--ttl", type=float, default=2.0)
    parser.add_argument("--keep", help="directory for the file (kept); default a temp dir")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="qtasks-space-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "space.db"
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    config = QueueConfig(result_ttl=args.ttl)
    backend = SqliteBackend(f"sqlite:///{path}", namespace="space", config=config, log=Logger("b"))

    started = time.monotonic()
    await fill(backend, args.n, args.batch)
    print(f"{args.n} tasks completed in {time.monotonic() - started:.1f} s: {sizes(path)}")
    await asyncio.sleep(args.ttl + 0.5)

    longest, calls, last = 0.0, 0, ""
    while calls < 200:
        began = time.monotonic()
        await backend.expire()
        longest = max(longest, time.monotonic() - began)
        calls += 1
        now = f"{sizes(path)} ({rows(path)} records)"
        print(f"after upkeep {calls:3}: {now}")
        if now == last:
            break
        last = now
    print(f"longest upkeep call {longest * 1000:.0f} ms")
    await backend.close()
    print(f"after close: {sizes(path)}")
    if not args.keep:
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        os.rmdir(folder)


if __name__ == "__main__":
    asyncio.run(main())
