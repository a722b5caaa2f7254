#!/usr/bin/env python3
"""Table size of the PostgreSQL backend before and after its records expire.

    python bench/pg_space.py                      # 100,000 tasks, 3 rounds
    python bench/pg_space.py --n 50000 --rounds 2 --url postgresql://postgres@127.0.0.1/test

Each round enqueues N tasks, leases and completes them in batches (as a worker does,
results kept for --ttl seconds), waits until they expire, then calls the backend's
upkeep (`expire()`, what every worker runs every few seconds) until nothing is left.
Prints `pg_total_relation_size` of the tasks table (heap, indexes, TOAST) after the
round's tasks completed and after they expired, the longest upkeep call, and the
table's dead tuples. The schema is a fresh one, dropped at the end. If the size stays
flat from round to round, expired rows leave reusable space and the table does not
bloat (autovacuum on the server's default settings does the vacuuming).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import psycopg
from sqlite_space import fill  # the same fill, from the script beside this one

from qtasks.backends.postgres import PostgresBackend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger


def size(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> str:
    row = conn.execute(
        "SELECT pg_total_relation_size(%s), n_live_tup, n_dead_tup"
        " FROM pg_stat_user_tables WHERE schemaname=%s AND relname='tasks'",
        (f"{schema}.tasks", schema),
    ).fetchone()
    assert row is not None
    total, live, dead = row
    return f"{int(total) / 1e6:6.1f} MB (live tuples ~{live}, dead ~{dead})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--ttl", type=float, default=2.0)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    schema = f"qtasks_space_{uuid.uuid4().hex[:8]}"
    config = QueueConfig(result_ttl=args.ttl)
    backend = PostgresBackend(
        f"{args.url}?schema={schema}", namespace="space", config=config, log=Logger("b")
    )
    with psycopg.connect(args.url, autocommit=True) as conn:
        try:
            for number in range(1, args.rounds + 1):
                started = time.monotonic()
                await fill(backend, args.n, args.batch)
                took = time.monotonic() - started
                conn.execute(f"ANALYZE {schema}.tasks")
                print(f"round {number}: {args.n} tasks done in {took:.1f} s: {size(conn, schema)}")
                await asyncio.sleep(args.ttl + 0.5)
                longest, calls = 0.0, 0
                while True:
                    began = time.monotonic()
                    await backend.expire()
                    longest = max(longest, time.monotonic() - began)
                    calls += 1
                    left = conn.execute(f"SELECT count(*) FROM {schema}.tasks").fetchone()
                    if not left or not left[0]:
                        break
                time.sleep(1.0)  # let the statistics collector catch up
                print(
                    f"round {number}: expired in {calls} upkeep calls (longest "
                    f"{longest * 1000:.0f} ms): {size(conn, schema)}"
                )
                # What autovacuum does on its own schedule, now: the space becomes reusable.
                conn.execute(f"VACUUM {schema}.tasks")
                print(f"round {number}: after VACUUM: {size(conn, schema)}")
        finally:
            await backend.close()
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    asyncio.run(main())
