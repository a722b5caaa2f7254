"""taskiq on NATS JetStream: taskiq-nats' PullBasedJetStreamBroker (one durable pull
consumer shared by the worker processes, so each task runs once), results on Redis.
Stream, subject and durable carry the bench prefix. Worker and round trip as for
taskiq on Redis.
"""

from __future__ import annotations

from typing import Any

from taskiq_nats import PullBasedJetStreamBroker
from taskiq_redis import RedisAsyncResultBackend

from bench.peers import common
from bench.peers.adapters.taskiq import describe, register, run_enqueue, run_roundtrip

VENV = "taskiq_nats"
BROKERS = ("nats",)

broker: Any = PullBasedJetStreamBroker(
    servers=common.NATS_URL,
    subject=f"{common.PREFIX}.taskiq",
    stream_name=f"{common.PREFIX}_taskiq",
    durable=f"{common.PREFIX}_taskiq",
).with_result_backend(RedisAsyncResultBackend(redis_url=common.REDIS_URL))

TASKS = register(broker)


def about() -> dict:
    from importlib.metadata import version

    return describe(f"taskiq-nats {version('taskiq-nats')}, results on Redis")


def worker() -> list[str]:
    return ["taskiq", "worker", f"{__name__}:broker"]


async def enqueue(n: int, kind: str) -> float:
    return await run_enqueue(broker, TASKS, n, kind)


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    return await run_roundtrip(broker, TASKS["ping"], k, budget_s, warmup)
