"""taskiq + taskiq-redis: ListQueueBroker with RedisAsyncResultBackend.

Worker: `taskiq worker bench.peers.adapters.taskiq:broker`, defaults (2 processes x
100 async tasks). Round trip: `(await ping.kiq(i)).wait_result()`, polling every 0.2 s.
The RabbitMQ and NATS brokers are modules of their own (taskiq_aio_pika, taskiq_nats).
"""

from __future__ import annotations

from typing import Any

from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

from bench.peers import common

VENV = "taskiq"
BROKERS = ("redis",)

broker: Any = ListQueueBroker(url=common.REDIS_URL).with_result_backend(
    RedisAsyncResultBackend(redis_url=common.REDIS_URL)
)


def register(brk: Any) -> dict[str, Any]:
    """The bench's tasks (`noop`, `sleep`, `ping`) on `brk`, by name; every taskiq
    adapter calls it at import, where `taskiq worker module:broker` finds them."""

    @brk.task(task_name="noop")
    async def noop(i: int) -> int:
        return await common.anoop(i)

    @brk.task(task_name="sleep")
    async def sleep(i: int) -> int:
        return await common.asleep(i)

    @brk.task(task_name="ping")
    async def ping(i: int) -> int:
        return i

    return {"noop": noop, "sleep": sleep, "ping": ping}


TASKS = register(broker)


def describe(extra: str) -> dict:
    from importlib.metadata import version

    return {
        "version": f"{version('taskiq')} ({extra})",
        "concurrency": "async, 2 worker processes x 100 tasks (CLI defaults)",
        "result_api": "wait_result(): polls the Redis result backend every 0.2 s",
        "notes": "every task stores its result",
    }


def about() -> dict:
    from importlib.metadata import version

    return describe(f"taskiq-redis {version('taskiq-redis')}")


def worker() -> list[str]:
    return ["taskiq", "worker", f"{__name__}:broker"]


async def run_enqueue(brk: Any, tasks: dict[str, Any], n: int, kind: str) -> float:
    await brk.startup()

    async def one(i: int) -> None:
        await tasks[kind].kiq(i)

    seconds = await common.atimed(one, n)
    await brk.shutdown()
    return seconds


async def run_roundtrip(brk: Any, task: Any, k: int, budget_s: float, warmup: int) -> dict:
    await brk.startup()

    async def one(i: int) -> None:
        result = await (await task.kiq(i)).wait_result(timeout=60)
        common.check(None if result.is_err else result.return_value, i)

    out = await common.around_trips(one, k, budget_s, warmup)
    await brk.shutdown()
    return out


async def enqueue(n: int, kind: str) -> float:
    return await run_enqueue(broker, TASKS, n, kind)


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    return await run_roundtrip(broker, TASKS["ping"], k, budget_s, warmup)
