"""Micro benchmark of the Redis backend alone (no app, no engine).

    python bench/redis_micro.py [redis://127.0.0.1:6379/15] [-n 10000] [-r 3]

Medians over `-r` repeats of: enqueue one task per call (sync and async clients), 100
per call, drain (fetch 100 + complete 100 per round), and enqueue -> fetch -> complete
-> wait_final round trips against a worker in another process (sync and async client).
Commands per task come from INFO deltas, so run it on a Redis nobody else is using.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
import uuid

import redis

from qtasks.backends import Completion, Delivery, TaskRecord
from qtasks.backends.redis import RedisBackend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger


def make(url: str, ns: str) -> RedisBackend:
    return RedisBackend(url, namespace=ns, config=QueueConfig(), log=Logger("bench"))


def recs(n: int) -> list[TaskRecord]:
    now = time.time()
    return [TaskRecord(str(uuid.uuid4()), "noop", 0, [i], {}, "new", now, now) for i in range(n)]


def done(d: Delivery) -> Completion:
    d.record.status, d.record.returning = "success", d.record.args[0]
    return Completion(d, d.record)


async def drain(b: RedisBackend, n: int, batch: int = 100) -> float:
    start, finished = time.perf_counter(), 0
    while finished < n:
        got = await b.fetch("default", batch, 30, "bench", 1.0)
        await b.complete([done(d) for d in got])
        finished += len(got)
    return n / (time.perf_counter() - start)


def worker(url: str, ns: str) -> None:
    async def run() -> None:
        b = make(url, ns)
        while True:
            got = await b.fetch("default", 10, 30, "w", 1.0)
            await b.complete([done(d) for d in got])

    asyncio.run(run())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url", nargs="?", default="redis://127.0.0.1:6379/15")
    p.add_argument("-n", type=int, default=10000)
    p.add_argument("-r", type=int, default=3)
    p.add_argument("--rt", type=int, default=500)
    a = p.parse_args()
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    b = make(a.url, ns)
    info = redis.Redis.from_url(a.url)
    n = a.n
    results: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    def commands() -> int:
        return int(info.info("stats")["total_commands_processed"])

    def sync_enqueue(rs: list[TaskRecord], per_call: int) -> float:
        t = time.perf_counter()
        for i in range(0, len(rs), per_call):
            b.enqueue_sync(rs[i : i + per_call])
        return len(rs) / (time.perf_counter() - t)

    async def async_enqueue(rs: list[TaskRecord]) -> float:
        t = time.perf_counter()
        for r in rs:
            await b.enqueue([r])
        return len(rs) / (time.perf_counter() - t)

    async def async_round_trips(k: int) -> list[float]:
        out = []
        for r in recs(k):
            t = time.perf_counter()
            await b.enqueue([r])
            got = await b.wait_final(r.uuid, 5)
            assert got is not None and got.status == "success"
            out.append(time.perf_counter() - t)
        await b.close()
        return out

    b.purge_sync()
    try:
        for _ in range(a.r):
            rs = recs(n)
            c0 = commands()
            record("sync enqueue, 1/call", sync_enqueue(rs, 1))
            c1 = commands()
            record("drain fetch 100 + complete", asyncio.run(drain(b, n)))
            c2 = commands()
            record("cmds/task: enqueue 1/call", (c1 - c0 - 1) / n)
            record("cmds/task: fetch+complete 100/call", (c2 - c1 - 1) / n)
            record("async enqueue, 1/call", asyncio.run(async_enqueue(recs(n))))
            asyncio.run(drain(b, n))
            rs = recs(n)
            c0 = commands()
            record("sync enqueue, 100/call", sync_enqueue(rs, 100))
            asyncio.run(drain(b, n))
            record("cmds/task: enqueue+fetch+complete 100/call", (commands() - c0 - 1) / n)

        proc = multiprocessing.Process(target=worker, args=(a.url, ns), daemon=True)
        proc.start()
        sync_lat = []
        for r in recs(a.rt + 20):
            t = time.perf_counter()
            b.enqueue_sync([r])
            got = b.wait_final_sync(r.uuid, 5)
            assert got is not None and got.status == "success"
            sync_lat.append(time.perf_counter() - t)
        async_lat = asyncio.run(async_round_trips(a.rt + 20))
        proc.kill()
        for name, lat in (("sync", sorted(sync_lat[20:])), ("async", sorted(async_lat[20:]))):
            p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99)]
            label = f"round trip ({name} client)"
            print(f"{label:42s} p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms")
        for name, values in results.items():
            unit = "" if name.startswith("cmds") else " tasks/s"
            print(
                f"{name:42s} {statistics.median(values):>10,.2f}{unit}  (runs: "
                + ", ".join(f"{v:,.1f}" for v in values)
                + ")"
            )
    finally:
        b.purge_sync()
        b.close_sync()


if __name__ == "__main__":
    main()
