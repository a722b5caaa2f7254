"""What every peer module shares: broker URLs, the task bodies and the timed loops.

Imported inside each peer's own virtualenv, so it needs only the standard library
and redis-py (every venv has it). The driver hands the settings down as environment:

    PEERS_BROKER     redis | postgres | rabbitmq | nats | sqlite, memory (qtasks only)
    PEERS_REDIS_URL  the Redis db of the completion counter (and of Redis queues)
    PEERS_PG_URL, PEERS_AMQP_URL, PEERS_NATS_URL, PEERS_SQLITE_URL
    PEERS_SLEEP_S    the io-bound task's sleep, seconds (0.05)

Every task body ends with one INCR of `DONE_KEY` on Redis, whatever the broker: the
driver polls that counter, so completion is read the same way for every framework.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

BROKER = os.environ.get("PEERS_BROKER", "redis")
REDIS_URL = os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/9")
PG_URL = os.environ.get("PEERS_PG_URL", "postgresql://postgres@127.0.0.1:5432/bench_peers")
AMQP_URL = os.environ.get("PEERS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/bench_peers")
NATS_URL = os.environ.get("PEERS_NATS_URL", "nats://127.0.0.1:4222")
SQLITE_URL = os.environ.get("PEERS_SQLITE_URL", "")
SLEEP_S = float(os.environ.get("PEERS_SLEEP_S", "0.05"))
DONE_KEY = "bench_peers:done"
#: Prefix of every NATS stream and name the peers create (the driver deletes them).
PREFIX = "bench_peers"


def broker_url() -> str:
    """The URL of the broker under test."""
    return {
        "redis": REDIS_URL,
        "postgres": PG_URL,
        "rabbitmq": AMQP_URL,
        "nats": NATS_URL,
        "sqlite": SQLITE_URL,
        "memory": "memory://bench_peers",  # one process: the enqueue workload only
    }[BROKER]


class _Counter:
    """One Redis client per process (sync) and per event loop (async); a fork or a new
    loop gets a new one, as connections must not cross either."""

    def __init__(self) -> None:
        self._sync: tuple[int, Any] | None = None
        self._async: dict[tuple[int, int], Any] = {}

    def incr(self) -> None:
        if self._sync is None or self._sync[0] != os.getpid():
            import redis

            self._sync = (os.getpid(), redis.Redis.from_url(REDIS_URL))
        self._sync[1].incr(DONE_KEY)

    async def aincr(self) -> None:
        key = (os.getpid(), id(asyncio.get_running_loop()))
        client = self._async.get(key)
        if client is None:
            import redis.asyncio as aredis

            # A blocking pool: a worker with no concurrency limit runs every io-bound
            # task at once, and a plain pool would fail past its connection limit.
            pool = aredis.BlockingConnectionPool.from_url(
                REDIS_URL, max_connections=100, timeout=60
            )
            client = self._async[key] = aredis.Redis(connection_pool=pool)
        await client.incr(DONE_KEY)


_counter = _Counter()


def noop(i: int) -> int:
    _counter.incr()
    return i


def sleep(i: int) -> int:
    time.sleep(SLEEP_S)
    _counter.incr()
    return i


async def anoop(i: int) -> int:
    await _counter.aincr()
    return i


async def asleep(i: int) -> int:
    await asyncio.sleep(SLEEP_S)
    await _counter.aincr()
    return i


def timed(fn: Callable[[int], Any], n: int) -> float:
    """Seconds to call `fn(i)` for i in range(n), one call at a time."""
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return time.perf_counter() - t


async def atimed(fn: Callable[[int], Awaitable[Any]], n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        await fn(i)
    return time.perf_counter() - t


def round_trips(one: Callable[[int], Any], k: int, budget_s: float, warmup: int) -> dict:
    """`warmup` untimed calls (the first waits for the worker), then up to `k` timed ones,
    stopping once `budget_s` seconds have passed. Latencies in seconds."""
    for w in range(warmup):
        one(-1 - w)
    lat: list[float] = []
    start = time.perf_counter()
    while len(lat) < k and time.perf_counter() - start < budget_s:
        t = time.perf_counter()
        one(len(lat))
        lat.append(time.perf_counter() - t)
    return {"latencies": lat}


async def around_trips(
    one: Callable[[int], Awaitable[Any]], k: int, budget_s: float, warmup: int
) -> dict:
    for w in range(warmup):
        await one(-1 - w)
    lat: list[float] = []
    start = time.perf_counter()
    while len(lat) < k and time.perf_counter() - start < budget_s:
        t = time.perf_counter()
        await one(len(lat))
        lat.append(time.perf_counter() - t)
    return {"latencies": lat}


def check(got: Any, want: int) -> None:
    if got != want:
        raise RuntimeError(f"round trip returned {got!r}, expected {want!r}")
