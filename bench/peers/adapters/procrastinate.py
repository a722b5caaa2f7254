"""procrastinate on PostgreSQL (psycopg 3), defaults.

Worker: `procrastinate --app bench.peers.adapters.procrastinate.app worker`
(concurrency 1, LISTEN/NOTIFY plus a fetch poll every 5 s). Tasks are async and take
keyword arguments. procrastinate keeps no return values: the round trip defers
`ping`, then reads the job's status every 10 ms (the harness's choice) until it has
succeeded. prepare() applies procrastinate's schema to the emptied database.
"""

from __future__ import annotations

import asyncio
import time

from procrastinate import App, PsycopgConnector
from procrastinate.jobs import Status

from bench.peers import common

VENV = "procrastinate"
BROKERS = ("postgres",)
STATUS_POLL_S = 0.01

app = App(connector=PsycopgConnector(conninfo=common.PG_URL))


@app.task(name="noop")
async def noop(i: int) -> int:
    return await common.anoop(i)


@app.task(name="sleep")
async def sleep(i: int) -> int:
    return await common.asleep(i)


@app.task(name="ping")
async def ping(i: int) -> int:
    return i


async def prepare() -> None:
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


def about() -> dict:
    from importlib.metadata import version

    return {
        "version": version("procrastinate"),
        "concurrency": "async, concurrency=1 (default), LISTEN/NOTIFY + 5 s poll",
        "result_api": "none: job status read every 10 ms until succeeded (harness)",
        "notes": "no result storage",
    }


def worker() -> list[str]:
    return ["procrastinate", "--app", f"{__name__}.app", "worker"]


async def enqueue(n: int, kind: str) -> float:
    task = noop if kind == "noop" else sleep
    async with app.open_async():

        async def one(i: int) -> None:
            await task.defer_async(i=i)

        return await common.atimed(one, n)


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    async with app.open_async():
        jobs = app.job_manager

        async def one(i: int) -> None:
            job_id = await ping.defer_async(i=i)
            deadline = time.monotonic() + 60
            while (status := await jobs.get_job_status_async(job_id)) != Status.SUCCEEDED:
                if status not in (Status.TODO, Status.DOING) or time.monotonic() > deadline:
                    raise RuntimeError(f"job {job_id}: {status}")
                await asyncio.sleep(STATUS_POLL_S)

        return await common.around_trips(one, k, budget_s, warmup)
