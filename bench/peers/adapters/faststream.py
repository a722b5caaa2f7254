"""FastStream on NATS JetStream, used as a task queue.

One durable pull subscriber per task on the stream `bench_peers_faststream` (what
FastStream recommends for JetStream; messages published before the worker starts are
delivered to it), ack after the handler, one message at a time per subscriber.
Worker: `faststream run bench.peers.adapters.faststream:app`. Enqueue = a JetStream
publish (waits for the PubAck). Round trip: `broker.request()` (the handler's return
value comes back on a reply inbox; nothing is stored). prepare() declares the stream
so that tasks can be published before a worker exists.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.nats import JStream, NatsBroker

from bench.peers import common

VENV = "faststream"
BROKERS = ("nats",)

STREAM = f"{common.PREFIX}_faststream"
SUBJECTS = {name: f"{common.PREFIX}.faststream.{name}" for name in ("noop", "sleep", "ping")}

broker = NatsBroker(common.NATS_URL)
_stream = JStream(name=STREAM)


def _sub(name: str):  # type: ignore[no-untyped-def]
    return broker.subscriber(
        SUBJECTS[name], stream=_stream, durable=f"{common.PREFIX}_fs_{name}", pull_sub=True
    )


@_sub("noop")
async def noop(i: int) -> int:
    return await common.anoop(i)


@_sub("sleep")
async def sleep(i: int) -> int:
    return await common.asleep(i)


@_sub("ping")
async def ping(i: int) -> int:
    return i


app = FastStream(broker)


async def prepare() -> None:
    import nats

    nc = await nats.connect(common.NATS_URL)
    await nc.jetstream().add_stream(name=STREAM, subjects=list(SUBJECTS.values()))
    await nc.close()


def about() -> dict:
    from importlib.metadata import version

    return {
        "version": version("faststream"),
        "concurrency": "async, one message at a time per subscriber (default)",
        "result_api": "broker.request() (reply inbox; no result storage)",
        "notes": "a messaging framework used as a task queue",
    }


def worker() -> list[str]:
    return ["faststream", "run", f"{__name__}:app"]


async def enqueue(n: int, kind: str) -> float:
    await broker.connect()

    async def one(i: int) -> None:
        await broker.publish(i, SUBJECTS[kind], stream=STREAM)

    seconds = await common.atimed(one, n)
    await broker.stop()
    return seconds


async def roundtrip(k: int, budget_s: float, warmup: int) -> dict:
    await broker.connect()

    async def one(i: int) -> None:
        msg = await broker.request(i, SUBJECTS["ping"], stream=STREAM, timeout=60)
        common.check(await msg.decode(), i)

    out = await common.around_trips(one, k, budget_s, warmup)
    await broker.stop()
    return out
