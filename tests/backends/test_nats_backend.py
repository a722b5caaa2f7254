"""The NATS backend on the shared server (each test its own namespace, whose streams
and buckets it deletes): malformed messages, the app end to end, a pair with another
result store, URLs and the missing driver."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from qtasks.asyncio import QueueTasks
from qtasks.backends import backend_class, create_backend
from qtasks.backends.nats import NatsBackend, NatsBroker
from qtasks.backends.nats.driver import Names, token
from qtasks.backends.paired import PairedBackend
from qtasks.configs import QueueConfig
from qtasks.core.models import Completion, Delivery, TaskRecord
from qtasks.exc import MissingDriverError
from qtasks.logs import Logger

pytestmark = pytest.mark.anyio

NATS_URL = os.environ.get("QTASKS_TEST_NATS_URL", "nats://127.0.0.1:4222")


def rec(*args: object, priority: int = 0) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", priority, list(args), {}, "new", now, now)


@pytest.fixture
async def backend() -> AsyncIterator[NatsBackend]:
    b = NatsBackend(
        NATS_URL, namespace=f"nats-{uuid.uuid4().hex[:8]}", config=QueueConfig(), log=Logger("t")
    )
    yield b
    await b.drop()
    await b.close()


async def publish_raw(subject: str, body: bytes, msg_id: str | None) -> None:
    """What a foreign or broken producer leaves in the queue."""
    nc = await nats.connect(NATS_URL)
    try:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await nc.jetstream().publish(subject, body, headers=headers)
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        (b"{not json", "not JSON"),
        (b'{"uuid": "x", "task_name": "t"}', "missing field(s) priority, args, kwargs"),
        (b"[1, 2]", "not an object"),
        (b'{"uuid": "x", "task_name": "t", "priority": 0, "args": {}, "kwargs": {}, '
         b'"created_at": 1}', "field 'args' is a dict"),
    ],
)  # fmt: skip
async def test_a_malformed_message_is_dead_lettered_and_the_rest_delivered(
    backend: NatsBackend, body: bytes, fault: str
) -> None:
    good = [rec("first"), rec("second")]
    await backend.enqueue(good[:1])
    bad_id = f"bad-{uuid.uuid4().hex[:6]}"
    await publish_raw(backend.nats_broker.names.subject("default", 0), body, bad_id)
    await backend.enqueue(good[1:])

    got = await backend.fetch("default", 10, 30, "w", 0)
    assert [d.record.args[0] for d in got] == ["first", "second"]
    (letter,) = await backend.dead_letters()
    assert letter.uuid == bad_id and fault in letter.reason
    assert letter.record is None and letter.raw == body.decode()
    stored = await backend.get(bad_id)
    assert stored is not None and stored.status == "error"
    assert stored.traceback is not None and "decode" in stored.traceback
    assert (await backend.stats())["queued"] == 0
    assert await backend.requeue_dead_letters([bad_id]) == 0  # nothing to run
    assert await backend.purge_dead_letters([bad_id]) == 1


async def test_a_message_without_an_id_is_dead_lettered_by_its_sequence(
    backend: NatsBackend,
) -> None:
    await backend.stats()  # the stream exists: the publish lands
    await publish_raw(backend.nats_broker.names.subject("default", 0), b"oops", None)
    assert await backend.fetch("default", 10, 30, "w", 0) == []
    (letter,) = await backend.dead_letters()
    assert letter.uuid.startswith("seq-") and letter.raw == "oops"


async def test_the_worker_goes_on_after_a_malformed_message() -> None:
    app = QueueTasks(name=f"nats-app-{uuid.uuid4().hex[:6]}", broker_url=NATS_URL)
    assert isinstance(app.backend, NatsBackend)

    @app.task
    async def add(a: int, b: int) -> int:
        return a + b

    try:
        async with app.serve():
            subject = app.backend.nats_broker.names.subject("default", 0)
            await app.backend.stats()  # the stream exists: the publish lands
            await publish_raw(subject, b"\xff not a task", "junk")
            task = await add.add_task(2, 3, timeout=10)
            assert task.status == "success" and task.returning == 5
            for _ in range(50):
                if await app.backend.dead_letters():
                    break
                await asyncio.sleep(0.05)
            (letter,) = await app.backend.dead_letters()
            assert letter.uuid == "junk" and "not JSON" in letter.reason
            assert letter.raw is not None
            assert letter.raw.encode("utf-8", "surrogateescape") == b"\xff not a task"
    finally:
        await app.backend.drop()
        await app.backend.close()


async def test_priorities_delays_and_retries_through_the_app() -> None:
    app = QueueTasks(name=f"nats-app-{uuid.uuid4().hex[:6]}", broker_url=NATS_URL)
    order: list[str] = []
    failures = {"n": 0}

    @app.task
    async def note(label: str) -> str:
        order.append(label)
        return label

    @app.task(retry=2)
    async def flaky() -> str:
        failures["n"] += 1
        if failures["n"] < 2:
            raise RuntimeError("once")
        return "fine"

    try:
        queued = [await note.add_task(x, priority=p) for x, p in [("b", 5), ("a", 1), ("c", 9)]]
        async with app.serve():
            for t in queued:
                assert (await app.wait(t.uuid, timeout=10)).status == "success"
            assert order == ["a", "b", "c"]
            start = time.time()
            late = await app.enqueue("note", args=("late",), delay=0.5)
            result = await app.wait(late.uuid, timeout=10)
            assert result is not None and result.status == "success" and time.time() - start >= 0.45
            stored = await app.backend.get(str(late.uuid))
            assert stored is not None and stored.attempts == 1  # early deliveries given back
            retried = await flaky.add_task(timeout=10)
            assert retried.status in ("retry", "success")
    finally:
        await app.backend.drop()
        await app.backend.close()


async def test_a_pair_with_another_result_store(tmp_path: Path) -> None:
    ns = f"nats-pair-{uuid.uuid4().hex[:6]}"
    pair = create_backend(
        NATS_URL,
        storage_url=f"sqlite:///{tmp_path}/results.db",
        namespace=ns,
        config=QueueConfig(),
        log=Logger("t"),
    )
    assert isinstance(pair, PairedBackend) and isinstance(pair.broker, NatsBroker)
    assert not pair.capabilities.dead_letters  # only the whole NATS backend lists them
    app = QueueTasks(name=ns, broker=pair)

    @app.task
    async def twice(x: int) -> int:
        return 2 * x

    try:
        async with app.serve():
            task = await twice.add_task(21, timeout=10)
            assert task.status == "success" and task.returning == 42
        stored = await pair.store.get(str(task.uuid))
        assert stored is not None and stored.returning == 42
    finally:
        assert isinstance(pair.broker, NatsBroker)
        await pair.broker.drop()
        await pair.close()


async def test_a_batch_keeps_its_order(backend: NatsBackend) -> None:
    """One enqueue call publishes its messages concurrently, in the order given."""
    now = time.time()
    records = [TaskRecord(str(uuid.uuid4()), "t", 0, [i], {}, "new", now, now) for i in range(300)]
    await backend.enqueue(records)
    got: list[object] = []
    while batch := await backend.fetch("default", 100, 30, "w", 0):
        got += [d.record.args[0] for d in batch]
    assert got == list(range(300))


def test_schemes_names_and_tokens() -> None:
    assert backend_class("nats://h:4222") is NatsBackend
    assert backend_class("tls://h:4222") is NatsBackend
    names = Names("my app.v2")
    assert names.stream.startswith("QT_my_app_v2_")
    assert names.subject("mail.out", -3).endswith(".n3")
    assert names.subject("mail.out", 3).endswith(".p3")
    assert token("plain-name_1") == "plain-name_1"
    assert token("a.b") != token("a_b")


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)
    with pytest.raises(MissingDriverError, match=r'pip install "\.\[nats\]"'):
        backend_class("nats://127.0.0.1:4222")


async def test_apps_with_other_lease_timeouts_share_a_consumer() -> None:
    """The consumer keeps the ack wait it was made with; a process with another
    lease_timeout gets its own lease length per message (a delayed nak)."""
    ns = f"nats-lease-{uuid.uuid4().hex[:6]}"

    def make(lease_timeout: float) -> NatsBackend:
        cfg = QueueConfig()
        cfg.lease_timeout = lease_timeout
        return NatsBackend(NATS_URL, namespace=ns, config=cfg, log=Logger("t"))

    long, short = make(30.0), make(0.5)
    try:
        await long.enqueue([rec("first")])
        (a,) = await long.fetch("default", 1, 30.0, "long", 0)  # makes the consumer: 30 s
        await long.complete([done(a)])
        r = rec("second")
        await short.enqueue([r])
        (b,) = await short.fetch("default", 1, 0.5, "short", 0)
        assert await long.fetch("default", 1, 30.0, "long", 0) == []
        await asyncio.sleep(0.8)  # the short lease ran out, not the consumer's 30 s
        (again,) = await long.fetch("default", 1, 30.0, "long", 2.0)
        assert again.record.uuid == r.uuid and again.record.attempts == 2
        await short.complete([done(b)])  # stale: changes nothing
        stored = await long.get(r.uuid)
        assert stored is not None and stored.status == "process"
        await long.complete([done(again)])
        assert (await long.stats())["leased"] == 0
    finally:
        await long.drop()
        await long.close()
        await short.close()


def done(d: Delivery) -> Completion:
    final = dataclasses.replace(d.record, status="success", updated_at=time.time())
    return Completion(d, final)
