"""Celery: Redis broker, or RabbitMQ through kombu's py-amqp transport; results on Redis.

Worker: `celery -A bench.peers.adapters.celery worker`, defaults (prefork pool,
concurrency = CPU count, prefetch multiplier 4). Round trip: `delay(i).get()`, which
the Redis result backend answers through pub/sub.
"""

from __future__ import annotations

import os

from celery import Celery

from bench.peers import common

VENV = "celery"
BROKERS = ("redis", "rabbitmq")

if common.BROKER == "rabbitmq":
    _broker = "pyamqp://" + common.AMQP_URL.split("://", 1)[1]
else:
    _broker = common.REDIS_URL
app = Celery("bench_peers", broker=_broker, backend=common.REDIS_URL)
app.conf.broker_connection_retry_on_startup = True  # only silences a start-up warning


@app.task(name="noop")
def noop(i: int) -> int:
    return common.noop(i)


@app.task(name="sleep")
def sleep(i: int) -> int:
    return common.sleep(i)


@app.task(name="ping")
def ping(i: int) -> int:
    return i


def about() -> dict:
    import celery
    import kombu

    return {
        "version": f"{celery.__version__} (kombu {kombu.__version__})",
        "concurrency": f"prefork, {os.cpu_count()} processes (CPU count), prefetch x4",
        "result_api": "AsyncResult.get() on the Redis result backend (pub/sub)",
        "notes": "every task stores its result",
    }


def worker() -> list[str]:
    return ["celery", "-A", __name__, "worker"]


def enqueue(n: int, kind: str) -> float:
    task = noop if kind == "noop" else sleep
    return common.timed(task.delay, n)


def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    return common.round_trips(
        lambda i: common.check(ping.delay(i).get(timeout=60), i), k, budget_s, warmup
    )
