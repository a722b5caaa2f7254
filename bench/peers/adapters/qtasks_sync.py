"""qtasks from this checkout, sync app (`qtasks.QueueTasks`), defaults; sync tasks.

Worker: `python -m qtasks -A bench.peers.adapters.qtasks_sync:app run`.
Round trip: `app.add_task("ping", i, timeout=60)`.
"""

from __future__ import annotations

from bench.peers import common
from bench.peers.adapters.qtasks import build, describe

VENV = "qtasks"
BROKERS = ("redis", "postgres", "rabbitmq", "nats", "sqlite", "memory")

app = build("sync")


@app.task(name="noop")
def noop(i: int) -> int:
    return common.noop(i)


@app.task(name="sleep")
def sleep(i: int) -> int:
    return common.sleep(i)


@app.task(name="ping")
def ping(i: int) -> int:
    return i


def about() -> dict:
    return describe(app, "sync")


def worker() -> list[str]:
    return ["python", "-m", "qtasks", "-A", f"{__name__}:app", "run"]


def enqueue(n: int, kind: str) -> float:
    seconds = common.timed(lambda i: app.add_task(kind, i), n)
    app.backend.close_sync()
    return seconds


def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    def one(i: int) -> None:
        task = app.add_task("ping", i, timeout=60)
        common.check(getattr(task, "returning", None), i)

    out = common.round_trips(one, k, budget_s, warmup)
    app.backend.close_sync()
    return out
