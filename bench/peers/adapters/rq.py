"""RQ: `rq worker` with defaults (one job at a time, a forked work horse per job).

Round trip: `queue.enqueue(ping, i).latest_result(timeout=60)`.
"""

from __future__ import annotations

import redis
import rq

from bench.peers import common

VENV = "rq"
BROKERS = ("redis",)


def noop(i: int) -> int:
    return common.noop(i)


def sleep(i: int) -> int:
    return common.sleep(i)


def ping(i: int) -> int:
    return i


def _queue() -> rq.Queue:
    return rq.Queue("default", connection=redis.Redis.from_url(common.REDIS_URL))


def about() -> dict:
    return {
        "version": rq.__version__,
        "concurrency": "one job at a time, fork per job",
        "result_api": "job.latest_result(timeout=) (blocking read of the result stream)",
        "notes": "",
    }


def worker() -> list[str]:
    return ["rq", "worker", "--url", common.REDIS_URL, "default"]


def enqueue(n: int, kind: str) -> float:
    q = _queue()
    fn = noop if kind == "noop" else sleep
    return common.timed(lambda i: q.enqueue(fn, i), n)


def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    q = _queue()

    def one(i: int) -> None:
        result = q.enqueue(ping, i).latest_result(timeout=60)
        common.check(None if result is None else result.return_value, i)

    return common.round_trips(one, k, budget_s, warmup)
