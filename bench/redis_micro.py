"""Micro benchmark of the Redis backend, with plain PING alongside as the yardstick.

    python bench/redis_micro.py [redis://127.0.0.1:6379/14] [-n 10000] [-r 3] [--app]

Run it on a Redis nobody else is using (a private `redis-server --port N`): commands
per task come from `INFO` deltas. Reports medians over `-r` repeats of:

- plain redis-py PING, sync and async: the round-trip bound of this machine right now,
  and PING through the backend's own driver (its floor per call);
- backend enqueue of one task per call (sync and async clients) and of 100 per call,
  with Redis commands and server CPU per task (`used_cpu_*` delta; includes the
  socket work) and the server time of the scripts (`commandstats` for EVALSHA);
- drains: fetch 10 + complete (a worker's batch size at concurrency 10) and 100;
- round trips enqueue -> worker fetch -> complete -> wait_final against a backend-level
  worker in another process;
- with `--app`, the peer benchmark's workloads through the public API: W1 `await
  app.add_task(...)` one at a time, W2 a `python -m qtasks ... run` worker draining N
  `noop` tasks that each INCR a counter with redis.asyncio (commands per task counts
  everything the worker does, the INCR included; the driver's own polls are
  subtracted), W3 `await app.add_task("ping", i, timeout=60)` round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio

from qtasks.backends import Completion, Delivery, TaskRecord
from qtasks.backends.redis import RedisBackend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

DEFAULT_URL = "redis://127.0.0.1:6379/14"
DONE_KEY = "bench:micro:done"


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


# --- the app the --app workloads run (the worker imports it: -A bench.redis_micro:w2_app) --
def w2_app() -> Any:
    from qtasks.asyncio import QueueTasks

    url = os.environ["QTASKS_MICRO_URL"]
    app = QueueTasks(name=os.environ["QTASKS_MICRO_APP"], broker_url=url)
    clients: dict[int, Any] = {}

    @app.task(name="noop")
    async def noop(i: int) -> int:  # like the peer benchmark's bench_common.noop_async
        loop = id(asyncio.get_running_loop())
        client = clients.get(loop)
        if client is None:
            client = clients[loop] = redis.asyncio.Redis.from_url(url)
        await client.incr(DONE_KEY)
        return i

    @app.task(name="ping")
    async def ping(i: int) -> int:
        return i

    return app


class Server:
    """INFO readings of the server under test."""

    def __init__(self, url: str) -> None:
        self.r = redis.Redis.from_url(url)
        self.calls = 0  # our own commands, subtracted from the counts

    def snap(self) -> dict[str, float]:
        stats, cpu, cmd = self.r.info("stats"), self.r.info("cpu"), self.r.info("commandstats")
        self.calls += 3
        ev = cmd.get("cmdstat_evalsha", {"calls": 0, "usec": 0})
        return {
            "cmds": stats["total_commands_processed"] - self.calls,
            "cpu": cpu["used_cpu_user"] + cpu["used_cpu_sys"],
            "ev_calls": ev["calls"],
            "ev_usec": ev["usec"],
        }


def ping_sync(url: str, n: int) -> float:
    r = redis.Redis.from_url(url)
    r.ping()
    t = time.perf_counter()
    for _ in range(n):
        r.ping()
    rate = n / (time.perf_counter() - t)
    r.close()
    return rate


async def ping_async(url: str, n: int) -> float:
    r = redis.asyncio.Redis.from_url(url)
    await r.ping()
    t = time.perf_counter()
    for _ in range(n):
        await r.ping()
    rate = n / (time.perf_counter() - t)
    await r.aclose()
    return rate


def ping_backend_sync(b: RedisBackend, n: int) -> float:
    """PING through the backend's own connection and driver: its floor per call."""
    from qtasks.backends.redis.commands import once as _once

    b._drive_sync(_once(("PING",)))
    t = time.perf_counter()
    for _ in range(n):
        b._drive_sync(_once(("PING",)))
    return n / (time.perf_counter() - t)


async def ping_backend_async(b: RedisBackend, n: int) -> float:
    from qtasks.backends.redis.commands import once as _once

    await b._drive(_once(("PING",)))
    t = time.perf_counter()
    for _ in range(n):
        await b._drive(_once(("PING",)))
    rate = n / (time.perf_counter() - t)
    await b.close()
    return rate


def app_workloads(url: str, n: int, rt: int, srv: Server, record: Callable[..., None]) -> None:
    """W1/W2/W3 of the peer benchmark through the public API (see the module doc)."""
    from qtasks.asyncio import QueueTasks

    name = f"micro-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, QTASKS_MICRO_URL=url, QTASKS_MICRO_APP=name)
    os.environ.update(QTASKS_MICRO_URL=url, QTASKS_MICRO_APP=name)
    app = QueueTasks(name=name, broker_url=url)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = [sys.executable, "-m", "qtasks", "-A", "bench.redis_micro:w2_app", "run"]

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.DEVNULL)

    async def w1() -> float:
        await app.add_task("noop", -1)  # connect
        t = time.perf_counter()
        for i in range(n):
            await app.add_task("noop", i)
        return n / (time.perf_counter() - t)

    async def w3(k: int) -> list[float]:
        out = []
        for i in range(-20, k):
            t = time.perf_counter()
            task = await app.add_task("ping", i, timeout=60)
            assert task is not None and task.status == "success", task
            out.append(time.perf_counter() - t)
        return out[20:]

    srv.r.delete(DONE_KEY)
    srv.calls += 1
    s0 = srv.snap()
    rate = asyncio.run(w1())
    s1 = srv.snap()
    record("app W1 await add_task", rate)
    record("app W1 cmds/task", (s1["cmds"] - s0["cmds"]) / (n + 1))
    record("app W1 server CPU us/task", (s1["cpu"] - s0["cpu"]) * 1e6 / (n + 1))
    # W2: N+1 tasks queued by W1; a worker process drains them, each INCRs DONE_KEY.
    s0 = srv.snap()
    t0 = time.perf_counter()
    proc = spawn()
    try:
        while True:
            got = int(srv.r.get(DONE_KEY) or 0)
            srv.calls += 1
            if got >= n + 1:
                break
            if proc.poll() is not None or time.perf_counter() - t0 > 120:
                raise RuntimeError(f"W2 worker gone or too slow: {got}/{n + 1}")
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
        s1 = srv.snap()
        record("app W2 drain (incl. worker start)", (n + 1) / elapsed)
        record("app W2 cmds/task (INCR included)", (s1["cmds"] - s0["cmds"]) / (n + 1))
        record("app W2 server CPU us/task", (s1["cpu"] - s0["cpu"]) * 1e6 / (n + 1))
        lat = sorted(asyncio.run(w3(rt)))
        record("app W3 round trip p50 ms", statistics.median(lat) * 1e3)
        record("app W3 round trip p99 ms", lat[int(len(lat) * 0.99)] * 1e3)
    finally:
        proc.terminate()
        proc.wait(10)
        app.backend.purge_sync()
        app.backend.close_sync()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url", nargs="?", default=DEFAULT_URL)
    p.add_argument("-n", type=int, default=10000)
    p.add_argument("-r", type=int, default=3)
    p.add_argument("--rt", type=int, default=500)
    p.add_argument("--app", action="store_true", help="also W1/W2/W3 through the public API")
    p.add_argument("--only-app", action="store_true", help="only the --app workloads")
    a = p.parse_args()
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    b = make(a.url, ns)
    srv = Server(a.url)
    n = a.n
    results: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    def measured(label: str, count: int, fn: Callable[[], float]) -> None:
        s0 = srv.snap()
        record(label, fn())
        s1 = srv.snap()
        record(f"  cmds/task: {label}", (s1["cmds"] - s0["cmds"]) / count)
        record(f"  server CPU us/task: {label}", (s1["cpu"] - s0["cpu"]) * 1e6 / count)
        if s1["ev_calls"] > s0["ev_calls"]:
            us = (s1["ev_usec"] - s0["ev_usec"]) / (s1["ev_calls"] - s0["ev_calls"])
            record(f"  EVALSHA us/call: {label}", us)

    def sync_enqueue(rs: list[TaskRecord], per_call: int) -> float:
        t = time.perf_counter()
        for i in range(0, len(rs), per_call):
            b.enqueue_sync(rs[i : i + per_call])
        return len(rs) / (time.perf_counter() - t)

    async def async_enqueue(rs: list[TaskRecord]) -> float:
        await b.get("x")  # connect
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
    b.get_sync("x")  # connect, load nothing
    try:
        for _ in range(a.r):
            record("plain PING, redis-py sync", ping_sync(a.url, n))
            record("plain PING, redis.asyncio", asyncio.run(ping_async(a.url, n)))
            record("PING via the backend's driver, sync", ping_backend_sync(b, n))
            record("PING via the backend's driver, async", asyncio.run(ping_backend_async(b, n)))
            if a.only_app:
                app_workloads(a.url, n, a.rt, srv, record)
                continue
            rs = recs(n)
            measured("sync enqueue, 1/call", n, lambda rs=rs: sync_enqueue(rs, 1))
            measured("drain fetch 100 + complete", n, lambda: asyncio.run(drain(b, n)))
            rs = recs(n)
            measured("async enqueue, 1/call", n, lambda rs=rs: asyncio.run(async_enqueue(rs)))
            measured("drain fetch 10 + complete", n, lambda: asyncio.run(drain(b, n, 10)))
            rs = recs(n)
            measured("sync enqueue, 100/call", n, lambda rs=rs: sync_enqueue(rs, 100))
            asyncio.run(drain(b, n))
            if a.app:
                app_workloads(a.url, n, a.rt, srv, record)

        if not a.only_app:
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
                print(f"{label:48s} p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms")
        for name, values in results.items():
            unit = " tasks/s" if not name.startswith(" ") and "/task" not in name else ""
            if "PING" in name:
                unit = " calls/s"
            if " ms" in name:
                unit = ""
            print(
                f"{name:48s} {statistics.median(values):>10,.2f}{unit}  (runs: "
                + ", ".join(f"{v:,.3g}" if v < 100 else f"{v:,.0f}" for v in values)
                + ")"
            )
    finally:
        b.purge_sync()
        b.close_sync()


if __name__ == "__main__":
    main()
