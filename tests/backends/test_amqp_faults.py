"""The RabbitMQ broker under faults: messages that are not tasks, a worker killed while
it holds a task, a task that keeps killing its workers, and a consumer channel closed
under a running task (what the server's consumer_timeout does)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable

import aio_pika
import aiormq.exceptions
import pytest

import qtasks.asyncio
from qtasks.backends import Backend, Completion, TaskRecord, create_backend
from qtasks.backends.amqp import AmqpBroker, codec
from qtasks.backends.paired import PairedBackend
from qtasks.configs import QueueConfig
from qtasks.core.status import ERROR, NEW, SUCCESS
from qtasks.logs import Logger

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.anyio


def record(*args: object) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, list(args), {}, NEW, now, now)


@pytest.fixture
def pair(amqp_url: str) -> Callable[..., Backend]:
    """Backends of one namespace, each with connections of its own."""
    namespace = f"faults-{uuid.uuid4().hex[:8]}"

    def make(**config: object) -> Backend:
        cfg = QueueConfig()
        for key, value in config.items():
            setattr(cfg, key, value)
        return create_backend(
            amqp_url, namespace=namespace, config=cfg, log=Logger("faults"), storage_url=REDIS_URL
        )

    return make


def broker_of(backend: Backend) -> AmqpBroker:
    assert isinstance(backend, PairedBackend) and isinstance(backend.broker, AmqpBroker)
    return backend.broker


async def test_messages_that_are_not_tasks_are_dead_lettered_and_the_worker_goes_on(
    amqp_url: str,
) -> None:
    name = f"malformed-{uuid.uuid4().hex[:8]}"
    full = codec.encode(record("x")).decode()
    bad = {
        "not-json": b"{not json",
        "not-an-object": b"[1, 2]",
        "missing": b'{"uuid": "u", "task_name": "t"}',
        "wrong-type": full.replace('"args":["x"]', '"args":"x"').encode(),
    }
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    work = codec.work_queue(name, "default")
    await channel.declare_queue(work, durable=True, arguments={"x-max-priority": 10})
    for key, body in bad.items():
        message = aio_pika.Message(body, message_id=key, delivery_mode=2)
        await channel.default_exchange.publish(message, routing_key=work)
    await connection.close()

    app = qtasks.asyncio.QueueTasks(name, broker_url=amqp_url, storage_url=REDIS_URL)

    @app.task
    async def ok() -> str:
        return "fine"

    try:
        async with app.serve():
            done = await ok.add_task(timeout=10)
            assert done is not None and done.returning == "fine"
            deadline = time.monotonic() + 5
            while len(letters := await app.dead_letters()) < len(bad):
                assert time.monotonic() < deadline, letters
                await asyncio.sleep(0.05)
        by_uuid = {letter.uuid: letter for letter in letters}
        assert set(by_uuid) == set(bad)
        for key, body in bad.items():
            letter = by_uuid[key]
            assert letter.record is None and letter.raw == body.decode()
            assert letter.reason.startswith("malformed message: ")
        assert "not JSON" in by_uuid["not-json"].reason
        assert "missing fields" in by_uuid["missing"].reason
        assert "'args'" in by_uuid["wrong-type"].reason
        assert await app.purge_dead_letters() == len(bad)
    finally:
        await app.flush_all()
        await app.backend.close()


_HOLDER = """
import asyncio, sys
from qtasks.backends import create_backend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

async def main() -> None:
    backend = create_backend(sys.argv[1], namespace=sys.argv[2], config=QueueConfig(),
                             log=Logger("holder"), storage_url=sys.argv[3])
    got = await backend.fetch("default", 1, 30, "holder", 10)
    print("held", got[0].record.uuid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_a_killed_workers_task_is_delivered_again_at_once(
    pair: Callable[..., Backend], amqp_url: str
) -> None:
    backend = pair()
    r = record("survives")
    await backend.enqueue([r])
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HOLDER), amqp_url, backend.namespace, REDIS_URL],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.to_thread(holder.stdout.readline)
        assert line.split() == ["held", r.uuid]
        assert await backend.fetch("default", 1, 30, "w", 0) == []  # leased: not ours
        holder.send_signal(signal.SIGKILL)
        start = time.monotonic()
        (again,) = await backend.fetch("default", 1, 30, "w", 5.0)
        assert time.monotonic() - start < 2.0  # no lease to wait out
        assert again.record.uuid == r.uuid and again.record.attempts == 2
        await backend.complete([Completion(again, _finished(again.record))])
        stored = await backend.get(r.uuid)
        assert stored is not None and stored.status == SUCCESS
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
        await backend.purge()
        await backend.close()


def _finished(r: TaskRecord) -> TaskRecord:
    r.status, r.returning, r.updated_at = SUCCESS, "done", time.time()
    return r


async def test_a_task_delivered_more_than_max_deliveries_is_dead_lettered(
    pair: Callable[..., Backend], amqp_url: str
) -> None:
    first = pair()
    r = record()
    r.task_name = "kills_its_worker"
    await first.enqueue([r])
    for attempt in (1, 2):  # two workers die holding it: their connections close
        dying = pair()
        (d,) = await dying.fetch("default", 1, 30, f"dies-{attempt}", 5.0)
        assert d.record.attempts == attempt
        await dying.close()
    config = QueueConfig()
    config.max_deliveries = 2
    app = qtasks.asyncio.QueueTasks(
        first.namespace, broker_url=amqp_url, storage_url=REDIS_URL, config=config
    )
    ran: list[int] = []

    @app.task
    async def kills_its_worker() -> None:
        ran.append(1)

    try:
        async with app.serve():
            final = await app.wait(r.uuid, timeout=10)
            assert final is not None and final.status == ERROR and ran == []
            deadline = time.monotonic() + 5
            while not (letters := await app.dead_letters()):  # listed after the record
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        (letter,) = letters
        assert letter.uuid == r.uuid and letter.record is not None
        assert "3" in letter.reason  # the delivery count it reached
    finally:
        await app.flush_all()
        await app.backend.close()
        await first.close()


async def test_a_closed_consumer_channel_hands_its_tasks_on_and_fences_them(
    pair: Callable[..., Backend],
) -> None:
    a, b = pair(), pair()
    r = record()
    await a.enqueue([r])
    (held,) = await a.fetch("default", 1, 30, "a", 0)
    (consumer,) = (await broker_of(a)._link()).consumers.values()
    await consumer.channel.close()  # as the server does past its consumer_timeout
    (again,) = await b.fetch("default", 1, 30, "b", 5.0)
    assert again.record.uuid == r.uuid and again.record.attempts == 2
    await a.complete([Completion(held, _finished(held.record))])  # too late: changes nothing
    stored = await b.get(r.uuid)
    assert stored is not None and stored.status != SUCCESS
    await b.complete([Completion(again, _finished(again.record))])
    stored = await b.get(r.uuid)
    assert stored is not None and stored.status == SUCCESS and stored.attempts == 2
    assert (await b.stats())["leased"] == 0
    for x in (a, b):
        await x.purge()
        await x.close()


def test_a_consumer_timeout_is_logged_saying_what_to_change(
    pair: Callable[..., Backend], caplog: pytest.LogCaptureFixture
) -> None:
    broker = broker_of(pair())
    closed = aiormq.exceptions.ChannelPreconditionFailed(
        406, "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out"
    )
    with caplog.at_level(logging.ERROR):
        broker._consumer_closed("qtasks.x.default", closed)
    assert "consumer_timeout" in caplog.text and "raise" in caplog.text
    caplog.clear()
    broker._consumer_closed("qtasks.x.default", aiormq.exceptions.ChannelClosed(None, None))
    assert caplog.text == ""  # our own close


async def test_a_dead_letter_whose_broker_never_heard_of_it_is_listed_on_redelivery(
    pair: Callable[..., Backend],
) -> None:
    """The pair stores the `error` record first; a crash before the broker lists the task
    leaves its message unacked. When it comes back, the pair buries it then."""
    a, b = pair(), pair()
    r = record()
    await a.enqueue([r])
    (held,) = await a.fetch("default", 1, 30, "a", 0)
    held.record.status, held.record.extra = ERROR, {"dead_letter": "gave up"}
    await a.put([held.record])  # the store's step done ...
    await a.close()  # ... and the worker dies before the broker's
    assert await b.fetch("default", 1, 30, "b", 2.0) == []  # not run again
    assert isinstance(b, PairedBackend)
    (letter,) = await b.dead_letters()
    assert (letter.uuid, letter.reason) == (r.uuid, "gave up")
    assert (await b.stats())["queued"] == 0
    await b.purge()
    await b.close()
