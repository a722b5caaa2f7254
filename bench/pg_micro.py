#!/usr/bin/env python3
"""Micro benchmark of the PostgreSQL backend, with a plain psycopg INSERT alongside as
the yardstick.

    python bench/pg_micro.py [--url postgresql://postgres@127.0.0.1:5432/test] [-n 5000] [-r 3]

Reports medians over `-r` repeats, in a fresh schema dropped at the end, of:

- a plain autocommitted one-row INSERT into a logged table through psycopg (the round
  trip and commit flush this machine allows right now: the floor of one enqueue);
- the backend's enqueue of one task per call (sync client) and of 1000 per call (one
  statement; records built beforehand, so the figure is the backend's own);
- a worker's drain: fetch 10 + complete 10, and fetch 100 + complete 100;

One enqueue is one statement; a drain batch is two (fetch, complete), so statements
per task are 1 and 2 / batch.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg

from qtasks.backends.postgres import PostgresBackend
from qtasks.configs import QueueConfig
from qtasks.core.models import Completion, TaskRecord
from qtasks.core.records import new_record
from qtasks.core.status import SUCCESS
from qtasks.logs import Logger


def records(n: int) -> list[TaskRecord]:
    return [new_record("noop", [i], {}, None, spec=None, default_priority=0) for i in range(n)]


def rate(n: int, run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return n / (time.perf_counter() - started)


def each(backend: PostgresBackend, some: list[TaskRecord]) -> None:
    for r in some:
        backend.enqueue_sync([r])


def batched(backend: PostgresBackend, batches: list[list[TaskRecord]]) -> None:
    for batch in batches:
        backend.enqueue_sync(batch)


def plain_insert(url: str, schema: str, n: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        # A logged table (a temporary one skips the write-ahead log and its flush).
        conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.yardstick (id bigserial, body bytea)")

        def run() -> None:
            for _ in range(n):
                conn.execute(
                    f"INSERT INTO {schema}.yardstick (body) VALUES (%s)", (b"x",), prepare=True
                )

        return rate(n, run)


async def drain(backend: PostgresBackend, n: int, batch: int) -> float:
    await backend.enqueue(records(n))
    started = time.perf_counter()
    done = 0
    while done < n:
        got = await backend.fetch("default", batch, 60.0, "micro", 0.0)
        finished = []
        for delivery in got:
            record = delivery.record
            record.status, record.returning = SUCCESS, record.args[0]
            finished.append(Completion(delivery, record))
        await backend.complete(finished)
        done += len(got)
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("-r", "--repeats", type=int, default=3)
    args = parser.parse_args()
    schema = f"qtasks_micro_{uuid.uuid4().hex[:8]}"
    backend = PostgresBackend(
        f"{args.url}?schema={schema}", namespace="micro", config=QueueConfig(), log=Logger("m")
    )
    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    try:
        backend.enqueue_sync(records(1))  # creates the schema
        for _ in range(args.repeats):
            add("plain INSERT, one row per call (psycopg)", plain_insert(args.url, schema, args.n))
            one = records(args.n)
            add(
                "enqueue, one task per call (sync)",
                rate(args.n, partial(each, backend, one)),
            )
            batches = [records(1000) for _ in range(max(1, args.n // 1000))]
            add(
                "enqueue, 1000 tasks per call (one statement)",
                rate(1000 * len(batches), partial(batched, backend, batches)),
            )
            add("drain: fetch 10 + complete 10", asyncio.run(drain(backend, args.n, 10)))
            add("drain: fetch 100 + complete 100", asyncio.run(drain(backend, args.n, 100)))
            backend.purge_sync()
        width = max(len(k) for k in results)
        print(f"{'':{width}}  median tasks/s   (repeats)")
        for name, values in results.items():
            shown = ", ".join(f"{v:,.0f}" for v in values)
            print(f"{name:{width}}  {statistics.median(values):>12,.0f}   ({shown})")
    finally:
        backend.close_sync()
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
