"""Benchmark apps, one factory per backend, for `bench/run.py` and the worker CLI:

    python -m qtasks -A bench.apps:app_sqlite run      # (run from the repository root)

`qtasks -A module:attr` calls a function as a factory, so a backend is only built
(and its driver only imported) when asked for. The URL comes from the environment
(`QTASKS_BENCH_<BACKEND>_URL`, set by run.py to a fresh temp file / Redis db 14 / a
RabbitMQ vhost of its own). A broker-only backend (amqp) keeps its records in
`QTASKS_BENCH_STORAGE_URL` (run.py: Redis db 13).

Tasks (async, like bench/peers/adapters/qtasks.py; all take one
int and return it): `noop` (W1/W2), `sleep` (W4: asyncio.sleep(BENCH_SLEEP_S=0.05)),
`ping` (W3). Unlike the peer benchmark, no task touches a counter: completion is read
from the backend (`stats()`), so the task bodies add no load.

Sync tasks for the `procs` workload (threads against child processes, chosen by the
worker's `QTASKS_TASK_ISOLATION`): `cpu0` returns at once, `cpu5` burns 5 ms of CPU.
They are module-level functions, so a child process can import them.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

APP_NAME = "bench"


def app_name() -> str:
    """The benchmark app's name (its namespace); a NATS run gets one of its own through
    BENCH_APP_NAME, so its streams can be deleted afterwards."""
    return os.environ.get("BENCH_APP_NAME") or APP_NAME


SLEEP_S = float(os.environ.get("BENCH_SLEEP_S", "0.05"))

DEFAULT_URLS = {
    "sqlite": "sqlite:///" + os.path.join(tempfile.gettempdir(), "qtasks-bench", "bench.db"),
    "redis": "redis://127.0.0.1:6379/14",
    "memory": "memory://bench",
    "postgres": "postgresql://postgres@127.0.0.1:5432/test?schema=qtasks_bench",
    "nats": "nats://127.0.0.1:4222",
    "amqp": "amqp://guest:guest@127.0.0.1:5672/",
}


#: CPU seconds `cpu5` burns.
CPU_S = 0.005


def cpu0(i: int) -> int:
    return i


def cpu5(i: int) -> int:
    # thread_time, not process_time: in a worker thread the process's clock also counts
    # the other task threads, and the task would stop early.
    end = time.thread_time() + CPU_S
    while time.thread_time() < end:
        pass
    return i


def url_for(backend: str) -> str:
    return os.environ.get(f"QTASKS_BENCH_{backend.upper()}_URL") or DEFAULT_URLS[backend]


def storage_for(backend: str) -> str | None:
    """Where a broker-only backend keeps its records (None: the backend itself)."""
    return os.environ.get("QTASKS_BENCH_STORAGE_URL") if backend == "amqp" else None


def make_worker_app(backend: str) -> Any:
    """The async app the worker runs, with the three benchmark tasks."""
    from qtasks.asyncio import QueueTasks

    app = QueueTasks(name=app_name(), broker_url=url_for(backend), storage_url=storage_for(backend))

    @app.task(name="noop")
    async def noop(i: int) -> int:
        return i

    @app.task(name="sleep")
    async def sleep(i: int) -> int:
        await asyncio.sleep(SLEEP_S)
        return i

    @app.task(name="ping")
    async def ping(i: int) -> int:
        return i

    app.task(name="cpu0")(cpu0)
    app.task(name="cpu5")(cpu5)
    return app


def make_client_app(backend: str, flavour: str) -> Any:
    """A client-only app (tasks are enqueued by name): `sync` or `async` flavour."""
    if flavour == "sync":
        import qtasks

        return qtasks.QueueTasks(
            name=app_name(), broker_url=url_for(backend), storage_url=storage_for(backend)
        )
    import qtasks.asyncio

    return qtasks.asyncio.QueueTasks(
        name=app_name(), broker_url=url_for(backend), storage_url=storage_for(backend)
    )


def app_sqlite() -> Any:
    return make_worker_app("sqlite")


def app_redis() -> Any:
    return make_worker_app("redis")


def app_postgres() -> Any:
    return make_worker_app("postgres")


def app_nats() -> Any:
    return make_worker_app("nats")


def app_memory() -> Any:
    return make_worker_app("memory")


def app_amqp() -> Any:
    return make_worker_app("amqp")
