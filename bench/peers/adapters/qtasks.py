"""qtasks from this checkout, async app (`qtasks.asyncio.QueueTasks`), defaults.

Worker: `python -m qtasks -A bench.peers.adapters.qtasks:app run`. The app is named
after the bench prefix, so its NATS streams and Redis keys are the harness's own.
On RabbitMQ (a broker only) its records live in the counter's Redis db.
Round trip: `await app.add_task("ping", i, timeout=60)`.
"""

from __future__ import annotations

from typing import Any

from bench.peers import common

VENV = "qtasks"
BROKERS = ("redis", "postgres", "rabbitmq", "nats", "sqlite", "memory")


def build(flavour: str) -> Any:
    """The app of `flavour` ("async" or "sync") on the broker under test."""
    if flavour == "sync":
        from qtasks import QueueTasks
    else:
        from qtasks.asyncio import QueueTasks
    url = common.broker_url()
    if common.BROKER == "postgres":
        url += "?schema=qtasks"
    storage = common.REDIS_URL if common.BROKER == "rabbitmq" else None
    return QueueTasks(name=common.PREFIX, broker_url=url, storage_url=storage)


def describe(app: Any, flavour: str) -> dict:
    from importlib.metadata import version

    return {
        "version": version("qtasks"),
        "concurrency": f"{flavour} app, defaults (max_tasks_process="
        f"{app.config.max_tasks_process})",
        "result_api": "add_task(..., timeout=60): waits for the record",
        "notes": "this checkout",
    }


app = build("async")


@app.task(name="noop")
async def noop(i: int) -> int:
    return await common.anoop(i)


@app.task(name="sleep")
async def sleep(i: int) -> int:
    return await common.asleep(i)


@app.task(name="ping")
async def ping(i: int) -> int:
    return i


def about() -> dict:
    return describe(app, "async")


def worker() -> list[str]:
    return ["python", "-m", "qtasks", "-A", f"{__name__}:app", "run"]


async def enqueue(n: int, kind: str) -> float:
    async def one(i: int) -> None:
        await app.add_task(kind, i)

    seconds = await common.atimed(one, n)
    await app.backend.close()
    return seconds


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    async def one(i: int) -> None:
        task = await app.add_task("ping", i, timeout=60)
        common.check(getattr(task, "returning", None), i)

    out = await common.around_trips(one, k, budget_s, warmup)
    await app.backend.close()
    return out
