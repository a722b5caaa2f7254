"""saq: its Redis queue or its PostgreSQL queue (`Queue.from_url`), defaults.

Worker: `saq bench.peers.adapters.saq.settings` (concurrency 10). saq tasks take
keyword arguments only, so the int travels as `i=`. Round trip: `queue.apply()`,
which polls the job every 0.5 s. On PostgreSQL, prepare() connects once so the tables
exist before a worker and a client race to create them.
"""

from __future__ import annotations

from typing import Any

import saq as _saq

from bench.peers import common

VENV = "saq"
BROKERS = ("redis", "postgres")

queue = _saq.Queue.from_url(common.broker_url())


async def noop(ctx: Any, *, i: int) -> int:
    return await common.anoop(i)


async def sleep(ctx: Any, *, i: int) -> int:
    return await common.asleep(i)


async def ping(ctx: Any, *, i: int) -> int:
    return i


settings = {"queue": queue, "functions": [noop, sleep, ping]}


async def prepare() -> None:
    await queue.connect()
    await queue.disconnect()


def about() -> dict:
    from importlib.metadata import version

    return {
        "version": version("saq"),
        "concurrency": "async, concurrency=10 (default)",
        "result_api": "queue.apply(): polls the job every 0.5 s",
        "notes": f"{type(queue).__name__}",
    }


def worker() -> list[str]:
    return ["saq", f"{__name__}.settings"]


async def enqueue(n: int, kind: str) -> float:
    await queue.connect()

    async def one(i: int) -> None:
        await queue.enqueue(kind, i=i)

    seconds = await common.atimed(one, n)
    await queue.disconnect()
    return seconds


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    await queue.connect()

    async def one(i: int) -> None:
        common.check(await queue.apply("ping", timeout=60, i=i), i)

    out = await common.around_trips(one, k, budget_s, warmup)
    await queue.disconnect()
    return out
