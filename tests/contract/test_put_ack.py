"""put, ack, idempotent enqueue and per-namespace stats, on every backend."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable

import pytest

from qtasks.backends import Backend, Completion, TaskRecord
from qtasks.core.status import FINAL_STATUSES, NEW, PROCESS, SUCCESS

from .conftest import lease_expiry

pytestmark = pytest.mark.anyio


def record(name: str = "t", priority: int = 0, *args: object) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), name, priority, list(args), {}, NEW, now, now)


def finished(r: TaskRecord, value: object = None) -> TaskRecord:
    r.status, r.returning, r.updated_at = SUCCESS, value, time.time()
    return r


async def test_put_stores_without_queueing(backend: Backend) -> None:
    r = record("t", 0, 1)
    await backend.put([r])
    got = await backend.get(r.uuid)
    assert got is not None and got.status == NEW and got.args == [1]
    assert await backend.fetch("default", 10, 30, "w", 0) == []
    assert (await backend.stats())["queued"] == 0


async def test_put_replaces_a_record_and_a_final_one_expires(
    make_backend: Callable[..., Backend],
) -> None:
    backend = make_backend(result_ttl=0.3)
    try:
        r = record("t")
        await backend.put([r])
        await backend.put([finished(dataclasses.replace(r), {"x": 1})])
        got = await backend.get(r.uuid)
        assert got is not None and got.status == SUCCESS and got.returning == {"x": 1}
        await asyncio.sleep(0.5)
        await backend.recover_expired("default")
        await backend.expire()
        assert await backend.get(r.uuid) is None
    finally:
        await backend.purge()
        await backend.close()


async def test_put_of_a_final_record_wakes_its_waiter(backend: Backend) -> None:
    r = record("t")
    await backend.enqueue([r])
    waiting = asyncio.create_task(backend.wait_final(r.uuid, 5))
    await asyncio.sleep(0.1)
    start = time.monotonic()
    await backend.put([finished(dataclasses.replace(r), 3)])
    got = await asyncio.wait_for(waiting, 5)
    assert got is not None and got.returning == 3
    assert time.monotonic() - start < 1.0


async def test_put_keeps_a_queued_task_queued(backend: Backend) -> None:
    r = record("t", 0, "old")
    await backend.enqueue([r])
    await backend.put([dataclasses.replace(r, args=["new"])])
    (d,) = await backend.fetch("default", 10, 30, "w", 0)
    assert d.record.uuid == r.uuid and d.record.args == ["new"]


async def test_ack_forgets_the_delivery_and_leaves_the_record(backend: Backend) -> None:
    r = record("t")
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 0.3, "w", 0)
    await backend.ack([d])
    stats = await backend.stats()
    assert (stats["queued"], stats["leased"]) == (0, 0)
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == PROCESS
    await asyncio.sleep(0.4)  # the lease would have expired by now: nothing comes back
    await backend.recover_expired("default")
    assert await backend.fetch("default", 1, 30, "w2", 0) == []
    await backend.release([d])  # a forgotten delivery cannot be given back either
    assert await backend.fetch("default", 1, 30, "w2", 0) == []


async def test_ack_after_the_lease_expired_drops_the_requeued_entry(backend: Backend) -> None:
    await backend.enqueue([record("t")])
    (d,) = await backend.fetch("default", 1, 0.2, "slow", 0)
    await asyncio.sleep(0.3)
    await backend.recover_expired("default")
    await backend.ack([d])  # it did finish after all
    assert await backend.fetch("default", 1, 30, "w2", 0) == []
    assert (await backend.stats())["queued"] == 0


async def test_ack_of_a_delivery_leased_again_elsewhere_changes_nothing(backend: Backend) -> None:
    lease_expiry(backend)
    r = record("t")
    await backend.enqueue([r])
    (old,) = await backend.fetch("default", 1, 0.2, "slow", 0)
    await asyncio.sleep(0.3)
    await backend.recover_expired("default")
    (new,) = await backend.fetch("default", 1, 30, "w2", 1.0)
    assert new.record.uuid == r.uuid
    await backend.ack([old])
    assert (await backend.stats())["leased"] == 1
    await backend.complete([Completion(new, finished(new.record, 1))])
    got = await backend.get(r.uuid)
    assert got is not None and got.status == SUCCESS


async def test_enqueue_is_idempotent_by_uuid(backend: Backend) -> None:
    r, other = record("t", 0, 1), record("t", 0, 2)
    await backend.enqueue([r])
    await backend.enqueue([r])  # e.g. a call retried after a lost reply
    await backend.enqueue([r, other])
    await asyncio.to_thread(backend.enqueue_sync, [r])
    assert (await backend.stats())["queued"] == 2
    got = await backend.fetch("default", 10, 30, "w", 0)
    assert sorted(d.record.uuid for d in got) == sorted([r.uuid, other.uuid])
    await backend.complete([Completion(d, finished(d.record, d.record.args[0])) for d in got])
    await backend.enqueue([dataclasses.replace(r, status=NEW)])  # finished: not run again
    assert await backend.fetch("default", 10, 30, "w", 0) == []
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status in FINAL_STATUSES and stored.returning == 1


async def test_a_follow_up_already_queued_is_not_queued_again(backend: Backend) -> None:
    r, child = record("t"), record("t", 0, "child")
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    await backend.enqueue([child])  # e.g. a completion retried after a lost reply
    await backend.complete([Completion(d, finished(d.record), [child])])
    assert (await backend.stats())["queued"] == 1
    got = await backend.fetch("default", 10, 30, "w", 0)
    assert [x.record.uuid for x in got] == [child.uuid]
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == SUCCESS


async def test_stats_count_only_their_own_namespace(make_backend: Callable[..., Backend]) -> None:
    a, b = make_backend("stats-a"), make_backend("stats-b")
    try:
        await a.enqueue([record("t"), record("t"), record("t")])
        await a.fetch("default", 1, 30, "w", 0)
        assert await b.stats() == {**await b.stats(), "queued": 0, "leased": 0}
        stats = await a.stats()
        assert (stats["queued"], stats["leased"]) == (2, 1)
    finally:
        for x in (a, b):
            await x.purge()
            await x.close()
