"""memory:// drops finished records once their time to live is over without anybody
reading them: swept by the worker's upkeep, and a little on every write."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import qtasks
from qtasks.backends.memory import MemoryBackend
from qtasks.backends.memory.store import MemoryStore
from qtasks.configs import QueueConfig
from qtasks.core.models import Completion, TaskRecord
from qtasks.core.status import NEW, SUCCESS
from qtasks.logs import Logger

pytestmark = pytest.mark.anyio


def record() -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, [], {}, NEW, now, now)


def backend(ttl: float) -> MemoryBackend:
    url = f"memory://expiry-{uuid.uuid4().hex[:8]}"
    return MemoryBackend(url, namespace="ns", config=QueueConfig(result_ttl=ttl), log=Logger("t"))


def held(store: MemoryStore) -> int:
    return sum(1 for key in store.records if key[0] == "ns")


async def finish(b: MemoryBackend, n: int) -> None:
    await b.enqueue([record() for _ in range(n)])
    got = await b.fetch("default", n, 30, "w", 0)
    done = [Completion(d, d.record) for d in got]
    for c in done:
        c.record.status = SUCCESS
    await b.complete(done)


async def test_upkeep_drops_expired_records_nobody_read() -> None:
    b = backend(ttl=0.2)
    await finish(b, 300)
    assert held(b._store) == 300
    await asyncio.sleep(0.3)
    await b.recover_expired("default")
    assert held(b._store) == 0
    assert b._store.expiry == [] and b._store.expires == {}


async def test_writes_sweep_a_bounded_share_of_expired_records() -> None:
    b = backend(ttl=0.2)
    await finish(b, 300)
    await asyncio.sleep(0.3)
    await b.enqueue([record()])  # one write: drops some, not all (it is not kept waiting)
    assert 1 < held(b._store) < 300
    for _ in range(10):
        await b.enqueue([record()])
    assert held(b._store) == 11  # only the queued ones are left


def test_a_worker_sweeps_records_of_fire_and_forget_tasks() -> None:
    name = f"expiry-{uuid.uuid4().hex[:8]}"
    config = QueueConfig(result_ttl=0.3, lease_timeout=1.0)  # upkeep every 0.5 s
    app = qtasks.QueueTasks(name, broker_url=f"memory://{name}", config=config)

    @app.task
    def noop(x: int) -> int:
        return x

    store = app.backend._store  # type: ignore[attr-defined]
    with app.serve():
        app.add_tasks([noop(i) for i in range(200)])
        deadline = time.monotonic() + 10
        while any(key[0] == name for key in store.records):  # nobody calls app.get()
            assert time.monotonic() < deadline, "finished records were never dropped"
            time.sleep(0.05)


async def test_a_read_never_returns_an_expired_record_it_did_not_sweep() -> None:
    b = backend(ttl=0.2)
    await finish(b, 300)
    last = max(b._store.expiry)[2]  # the last to expire: beyond one read's sweep
    await asyncio.sleep(0.3)
    assert await b.get(last) is None
    assert held(b._store) > 1  # the read swept only its share


async def test_an_expired_uuid_not_swept_yet_can_be_enqueued_again() -> None:
    b = backend(ttl=0.2)
    await finish(b, 300)
    last = max(b._store.expiry)[2]
    await asyncio.sleep(0.3)
    again = record()
    again.uuid = last
    await b.enqueue([again])
    (d,) = [d for d in await b.fetch("default", 10, 30, "w", 0) if d.record.uuid == last]
    assert d.record.status == "process"
