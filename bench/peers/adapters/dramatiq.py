"""Dramatiq: RedisBroker or RabbitmqBroker (pika); the Results middleware on Redis.

Worker: `dramatiq bench.peers.adapters.dramatiq`, defaults (CPU count processes x 8
threads). Dramatiq keeps no results unless asked: the Results middleware is added
and only `ping` stores its result; round trip = `send(i).get_result(block=True)`.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from bench.peers import common

VENV = "dramatiq"
BROKERS = ("redis", "rabbitmq")

if common.BROKER == "rabbitmq":
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker: dramatiq.Broker = RabbitmqBroker(url=common.AMQP_URL)
else:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=common.REDIS_URL)
broker.add_middleware(Results(backend=RedisBackend(url=common.REDIS_URL)))
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="noop")
def noop(i: int) -> int:
    return common.noop(i)


@dramatiq.actor(actor_name="sleep")
def sleep(i: int) -> int:
    return common.sleep(i)


@dramatiq.actor(actor_name="ping", store_results=True)
def ping(i: int) -> int:
    return i


def about() -> dict:
    return {
        "version": dramatiq.__version__,
        "concurrency": f"{os.cpu_count()} processes (CPU count) x 8 threads",
        "result_api": "Results middleware + RedisBackend, get_result(block=True)",
        "notes": "results middleware added (off by default); only ping stores results",
    }


def worker() -> list[str]:
    return ["dramatiq", __name__]


def enqueue(n: int, kind: str) -> float:
    actor = noop if kind == "noop" else sleep
    return common.timed(actor.send, n)


def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    def one(i: int) -> None:
        common.check(ping.send(i).get_result(block=True, timeout=60_000), i)

    return common.round_trips(one, k, budget_s, warmup)
