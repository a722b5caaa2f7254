"""arq: `arq bench.peers.adapters.arq.WorkerSettings`, defaults (max_jobs=10, the
worker polls the queue every 0.5 s). Round trip: `(await enqueue_job()).result()`,
which polls every 0.5 s.
"""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from bench.peers import common

VENV = "arq"
BROKERS = ("redis",)

SETTINGS = RedisSettings.from_dsn(common.REDIS_URL)


async def noop(ctx: Any, i: int) -> int:
    return await common.anoop(i)


async def sleep(ctx: Any, i: int) -> int:
    return await common.asleep(i)


async def ping(ctx: Any, i: int) -> int:
    return i


class WorkerSettings:
    functions = (noop, sleep, ping)
    redis_settings = SETTINGS


def about() -> dict:
    from importlib.metadata import version

    return {
        "version": version("arq"),
        "concurrency": "async, max_jobs=10, worker poll every 0.5 s",
        "result_api": "job.result(timeout=): polls every 0.5 s",
        "notes": "drain bound by the worker poll (at most 10 jobs started per 0.5 s poll)",
    }


def worker() -> list[str]:
    return ["arq", f"{__name__}.WorkerSettings"]


async def enqueue(n: int, kind: str) -> float:
    pool = await create_pool(SETTINGS)

    async def one(i: int) -> None:
        await pool.enqueue_job(kind, i)

    seconds = await common.atimed(one, n)
    await pool.aclose()
    return seconds


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    pool = await create_pool(SETTINGS)

    async def one(i: int) -> None:
        job = await pool.enqueue_job("ping", i)
        assert job is not None
        common.check(await job.result(timeout=60), i)

    out = await common.around_trips(one, k, budget_s, warmup)
    await pool.aclose()
    return out
