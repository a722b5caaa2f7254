"""huey: RedisHuey, `huey_consumer bench.peers.adapters.huey.huey` with defaults (one
worker thread). Round trip: `ping(i).get(blocking=True)`, which polls with back-off.
"""

from __future__ import annotations

import huey as _huey

from bench.peers import common

VENV = "huey"
BROKERS = ("redis",)

huey = _huey.RedisHuey("bench_peers", url=common.REDIS_URL)


@huey.task(name="noop")
def noop(i: int) -> int:
    return common.noop(i)


@huey.task(name="sleep")
def sleep(i: int) -> int:
    return common.sleep(i)


@huey.task(name="ping")
def ping(i: int) -> int:
    return i


def about() -> dict:
    return {
        "version": _huey.__version__,
        "concurrency": "1 worker thread (consumer default)",
        "result_api": "Result.get(blocking=True): polls, back-off 0.05 s x1.15 up to 1 s",
        "notes": "io-bound drain bound by the single thread",
    }


def worker() -> list[str]:
    return ["huey_consumer", f"{__name__}.huey"]


def enqueue(n: int, kind: str) -> float:
    task = noop if kind == "noop" else sleep
    return common.timed(task, n)


def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    def one(i: int) -> None:
        common.check(ping(i).get(blocking=True, timeout=60), i)

    return common.round_trips(one, k, budget_s, warmup)
