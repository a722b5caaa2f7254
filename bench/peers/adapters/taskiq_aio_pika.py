"""taskiq on RabbitMQ: taskiq-aio-pika's AioPikaBroker (defaults: qos=10), results on
Redis (taskiq-redis). Worker and round trip as for taskiq on Redis.
"""

from __future__ import annotations

from typing import Any

from taskiq_aio_pika import AioPikaBroker
from taskiq_redis import RedisAsyncResultBackend

from bench.peers import common
from bench.peers.adapters.taskiq import describe, register, run_enqueue, run_roundtrip

VENV = "taskiq_aio_pika"
BROKERS = ("rabbitmq",)

broker: Any = AioPikaBroker(url=common.AMQP_URL).with_result_backend(
    RedisAsyncResultBackend(redis_url=common.REDIS_URL)
)

TASKS = register(broker)


def about() -> dict:
    from importlib.metadata import version

    return describe(f"taskiq-aio-pika {version('taskiq-aio-pika')}, results on Redis")


def worker() -> list[str]:
    return ["taskiq", "worker", f"{__name__}:broker"]


async def enqueue(n: int, kind: str) -> float:
    return await run_enqueue(broker, TASKS, n, kind)


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    return await run_roundtrip(broker, TASKS["ping"], k, budget_s, warmup)
