"""A broker paired with a separate result store: final record first, then the ack, and a
task whose record is final never runs again, even after a crash between the two. The
contract suite runs against a pair too (tests/contract, kind "paired")."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from qtasks import QueueTasks
from qtasks import backends as backends_mod
from qtasks.backends import Completion, Delivery, TaskRecord, create_backend
from qtasks.backends.memory import MemoryBackend
from qtasks.backends.paired import PairedBackend
from qtasks.backends.sqlite import SqliteBackend
from qtasks.configs import QueueConfig
from qtasks.core.models import DEFAULT_QUEUE
from qtasks.core.ports import Broker, Capabilities
from qtasks.core.status import NEW, RETRY, SUCCESS
from qtasks.exc import CapabilityError, ConfigError
from qtasks.logs import Logger


class BrokerOnly(Broker):
    """A memory backend seen as a broker and nothing else."""

    capabilities = Capabilities(priorities=True, delays=True, push=True)

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self.inner = MemoryBackend(url, **options)
        self.acked: list[str] = []

    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        await self.inner.enqueue(records)

    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        return await self.inner.fetch(queue, limit, lease, worker_id, wait)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        self.acked += [d.record.uuid for d in deliveries]
        await self.inner.ack(deliveries)

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        await self.inner.extend(deliveries, lease)

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        await self.inner.release(deliveries)

    async def purge(self) -> None:
        await self.inner.purge()

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        return await self.inner.stats(queue)

    def purge_sync(self) -> None:
        self.inner.purge_sync()

    def close_sync(self) -> None:
        pass


def record(*args: object) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, list(args), {}, NEW, now, now)


def done(d: Delivery, status: str = SUCCESS, value: object = None) -> TaskRecord:
    r = d.record
    r.status, r.returning, r.updated_at = status, value, time.time()
    return r


@pytest.fixture(params=["backend-broker", "broker-only"])
async def paired(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PairedBackend]:
    options: dict[str, Any] = {
        "namespace": f"paired-{uuid.uuid4().hex[:8]}",
        "config": QueueConfig(),
        "log": Logger("paired"),
    }
    url = f"memory://paired-{uuid.uuid4().hex[:8]}"
    broker = MemoryBackend(url, **options) if request.param == "backend-broker" else None
    pair = PairedBackend(
        broker or BrokerOnly(url, **options),
        SqliteBackend(f"sqlite:///{tmp_path}/results.db", **options),
    )
    yield pair
    await pair.purge()
    await pair.close()


def crash_on_the_broker_side(pair: PairedBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    async def crash(*args: object) -> None:
        raise RuntimeError("worker died")

    for name in ("complete", "ack"):
        if hasattr(pair.broker, name):
            monkeypatch.setattr(pair.broker, name, crash)


@pytest.mark.anyio
async def test_complete_writes_the_record_then_acks(paired: PairedBackend) -> None:
    r = record(1)
    await paired.enqueue([r])
    assert (await paired.store.get(r.uuid)) is not None  # the store has it from the start
    (d,) = await paired.fetch("default", 1, 30, "w", 0)
    assert (await paired.get(r.uuid)).status == "process"  # type: ignore[union-attr]
    await paired.complete([Completion(d, done(d, value=2))])
    got = await paired.store.get(r.uuid)
    assert got is not None and got.status == SUCCESS and got.returning == 2
    assert (await paired.broker.stats())["leased"] == 0
    if isinstance(paired.broker, BrokerOnly):
        assert paired.broker.acked == [r.uuid]


@pytest.mark.anyio
async def test_crash_between_put_and_ack_never_runs_the_task_again(
    paired: PairedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = record(1)
    await paired.enqueue([r])
    (d,) = await paired.fetch("default", 1, 0.3, "dying", 0)
    with monkeypatch.context() as patch:
        crash_on_the_broker_side(paired, patch)
        with pytest.raises(RuntimeError, match="worker died"):
            await paired.complete([Completion(d, done(d, value="once"))])
    assert (await paired.broker.stats())["leased"] == 1  # the broker never heard of it
    await asyncio.sleep(0.4)
    await paired.recover_expired("default")
    assert await paired.fetch("default", 10, 30, "w2", 0.3) == []  # acked, not returned
    stats = await paired.broker.stats()
    assert (stats["queued"], stats["leased"]) == (0, 0)
    got = await paired.get(r.uuid)
    assert got is not None and got.status == SUCCESS and got.returning == "once"


@pytest.mark.anyio
async def test_crash_after_a_retry_was_stored_still_queues_the_next_attempt(
    paired: PairedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = record(1)
    await paired.enqueue([r])
    (d,) = await paired.fetch("default", 1, 0.3, "dying", 0)
    child = record(1)
    failed = done(d, status=RETRY)
    failed.extra["retry_child_uuid"] = child.uuid
    with monkeypatch.context() as patch:
        crash_on_the_broker_side(paired, patch)
        with pytest.raises(RuntimeError):
            await paired.complete([Completion(d, failed, [child])])
    await asyncio.sleep(0.4)
    await paired.recover_expired("default")
    (again,) = await paired.fetch("default", 10, 30, "w2", 1.0)
    assert again.record.uuid == child.uuid  # the retry, not the first attempt
    assert await paired.fetch("default", 10, 30, "w2", 0) == []


@pytest.mark.anyio
async def test_a_pair_declares_what_its_parts_can_do(paired: PairedBackend) -> None:
    caps = paired.capabilities
    assert not caps.atomic_completion and not caps.shared_settings
    assert not caps.push  # the SQLite store polls
    assert caps.priorities and caps.delays
    assert caps.cancel_queued == isinstance(paired.broker, MemoryBackend)
    assert caps.worker_registry  # the broker's, else the store's
    await paired.register_worker("w1", {}, 30)
    assert [w["worker_id"] for w in await paired.live_workers()] == ["w1"]
    if not caps.cancel_queued:
        assert await paired.cancel_requests(["x"]) == {}
        with pytest.raises(CapabilityError):
            await paired.cancel("x", "no")


def test_create_backend_pairs_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options: dict[str, Any] = {"namespace": "n", "config": QueueConfig(), "log": Logger("n")}
    db = f"sqlite:///{tmp_path}/r.db"
    assert type(create_backend("memory://x", **options)) is MemoryBackend
    assert type(create_backend("memory://x", storage_url="memory://x", **options)) is MemoryBackend
    pair = create_backend("memory://x", storage_url=db, **options)
    assert isinstance(pair, PairedBackend)
    assert isinstance(pair.broker, MemoryBackend) and isinstance(pair.store, SqliteBackend)
    assert pair.config is pair.store.config is options["config"]

    real = backends_mod.backend_class
    monkeypatch.setattr(
        backends_mod,
        "backend_class",
        lambda url: BrokerOnly if url.startswith("brokeronly://") else real(url),
    )
    with pytest.raises(ConfigError, match="broker only"):
        create_backend("brokeronly://q", **options)
    assert isinstance(create_backend("brokeronly://q", storage_url=db, **options), PairedBackend)
    with pytest.raises(ConfigError, match="cannot store results"):
        create_backend("memory://x", storage_url="brokeronly://q", **options)


def test_an_app_runs_tasks_on_a_pair(tmp_path: Path) -> None:
    name = f"paired-app-{uuid.uuid4().hex[:6]}"
    pair = create_backend(
        f"memory://{name}",
        storage_url=f"sqlite:///{tmp_path}/results.db",
        namespace=name,
        config=QueueConfig(),
        log=Logger(name),
    )
    app = QueueTasks(name, broker=pair)
    assert app.backend is pair and pair.config is app.config

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    with app.serve():
        assert add.add_task(2, 3, timeout=10).returning == 5
    app.flush_all()
