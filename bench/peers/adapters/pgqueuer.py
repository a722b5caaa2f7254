"""PgQueuer on PostgreSQL (asyncpg), defaults (10 jobs per dequeue, no concurrency
limit, LISTEN/NOTIFY).

Worker: `python -m bench.peers.adapters.pgqueuer`, i.e. `pgqueuer.run(factory)`, what
`pgq run` does (its own command line fails to parse `--log-level` in 1.6.0). Payloads
are bytes: the int travels as its decimal string. PgQueuer keeps no return values:
the round trip waits for the job's final status with CompletionWatcher (its
defaults). prepare() installs PgQueuer's tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from pgqueuer import PgQueuer, Queries
from pgqueuer.core.completion import CompletionWatcher
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job

from bench.peers import common

VENV = "pgqueuer"
BROKERS = ("postgres",)


@asynccontextmanager
async def factory() -> AsyncIterator[PgQueuer]:
    conn = await asyncpg.connect(common.PG_URL)
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        await common.anoop(int(job.payload or b"0"))

    @pgq.entrypoint("sleep")
    async def sleep(job: Job) -> None:
        await common.asleep(int(job.payload or b"0"))

    @pgq.entrypoint("ping")
    async def ping(job: Job) -> None:
        pass

    try:
        yield pgq
    finally:
        await conn.close()


async def prepare() -> None:
    conn = await asyncpg.connect(common.PG_URL)
    await Queries(AsyncpgDriver(conn)).install()
    await conn.close()


def about() -> dict:
    from importlib.metadata import version

    return {
        "version": version("pgqueuer"),
        "concurrency": "async, 10 jobs per dequeue, no concurrency limit (defaults)",
        "result_api": "none: CompletionWatcher.wait_for(job_id) -> final status",
        "notes": "no result storage; the io-bound drain runs every task at once",
    }


def worker() -> list[str]:
    return ["python", "-m", __name__]


async def enqueue(n: int, kind: str) -> float:
    conn = await asyncpg.connect(common.PG_URL)
    queries = Queries(AsyncpgDriver(conn))

    async def one(i: int) -> None:
        await queries.enqueue(kind, str(i).encode())

    seconds = await common.atimed(one, n)
    await conn.close()
    return seconds


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    conn = await asyncpg.connect(common.PG_URL)
    queries = Queries(AsyncpgDriver(conn))
    # the watcher listens on a connection of its own (asyncpg runs one query at a time)
    wconn = await asyncpg.connect(common.PG_URL)
    wdriver = AsyncpgDriver(wconn)
    async with CompletionWatcher(wdriver, queries=Queries(wdriver)) as watcher:

        async def one(i: int) -> None:
            (job_id,) = await queries.enqueue("ping", str(i).encode())
            status = await asyncio.wait_for(watcher.wait_for(job_id), 60)
            if status != "successful":
                raise RuntimeError(f"job {job_id}: {status}")

        out = await common.around_trips(one, k, budget_s, warmup)
    await wconn.close()
    await conn.close()
    return out


if __name__ == "__main__":
    import pgqueuer

    asyncio.run(pgqueuer.run(factory))
