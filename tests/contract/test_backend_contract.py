"""What every backend must do. A new backend is added to BACKENDS in conftest.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest

from qtasks.backends import Backend, Completion, TaskRecord
from qtasks.exc import SerializationError

from .conftest import lease_expiry, requires

pytestmark = pytest.mark.anyio


def record(name: str = "t", priority: int = 0, *args: object, **kw: object) -> TaskRecord:
    now = time.time()
    return TaskRecord(
        uuid=str(uuid.uuid4()),
        task_name=name,
        priority=priority,
        args=list(args),
        kwargs=dict(kw),
        status="new",
        created_at=now,
        updated_at=now,
    )


def finished(r: TaskRecord, value: object = None, status: str = "success") -> TaskRecord:
    r.status = status
    r.returning = value
    r.updated_at = time.time()
    return r


async def test_enqueue_then_get_roundtrips_fields(backend: Backend) -> None:
    r = record("add", 3, 1, "x", [2], key={"a": 1})
    await backend.enqueue([r])
    got = await backend.get(r.uuid)
    assert got is not None
    assert (got.task_name, got.priority, got.status) == ("add", 3, "new")
    assert got.args == [1, "x", [2]] and got.kwargs == {"key": {"a": 1}}
    assert got.created_at == pytest.approx(r.created_at)


async def test_get_unknown_is_none(backend: Backend) -> None:
    assert await backend.get(str(uuid.uuid4())) is None


async def test_unserialisable_args_fail_and_store_nothing(backend: Backend) -> None:
    bad = record("t", 0, object())
    with pytest.raises(SerializationError):
        await backend.enqueue([bad])
    assert await backend.get(bad.uuid) is None
    assert await backend.fetch("default", 10, 30, "w", 0) == []


async def test_fetch_leases_and_marks_process(backend: Backend) -> None:
    r = record("t")
    await backend.enqueue([r])
    got = await backend.fetch("default", 10, 30, "w1", 0)
    assert [d.record.uuid for d in got] == [r.uuid]
    assert got[0].record.status == "process" and got[0].record.attempts == 1
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == "process"
    # leased: nobody else gets it
    assert await backend.fetch("default", 10, 30, "w2", 0) == []


async def test_priority_then_fifo(backend: Backend) -> None:
    rs = [record("t", p, i) for i, p in enumerate([5, 1, 5, 0, 1, 0])]
    for r in rs:
        await backend.enqueue([r])
    order = []
    while batch := await backend.fetch("default", 2, 30, "w", 0):
        order += [d.record.args[0] for d in batch]
    assert order == [3, 5, 1, 4, 0, 2]


async def test_fetch_respects_limit(backend: Backend) -> None:
    await backend.enqueue([record("t", 0, i) for i in range(5)])
    assert len(await backend.fetch("default", 3, 30, "w", 0)) == 3
    assert len(await backend.fetch("default", 3, 30, "w", 0)) == 2


async def test_complete_writes_final_and_acks(backend: Backend) -> None:
    r = record("t", 0, 2)
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    await backend.complete([Completion(d, finished(d.record, {"ok": [1, 2]}))])
    got = await backend.get(r.uuid)
    assert got is not None and got.status == "success" and got.returning == {"ok": [1, 2]}
    assert got.args == [2]
    assert (await backend.stats())["leased"] == 0


async def test_expired_lease_is_redelivered(backend: Backend) -> None:
    lease_expiry(backend)
    r = record("t")
    await backend.enqueue([r])
    first = await backend.fetch("default", 1, 0.3, "dead-worker", 0)
    assert len(first) == 1
    assert await backend.fetch("default", 1, 30, "w2", 0) == []
    await asyncio.sleep(0.4)
    await backend.recover_expired("default")
    again = await backend.fetch("default", 1, 30, "w2", 1.0)
    assert [d.record.uuid for d in again] == [r.uuid]
    assert again[0].record.attempts == 2


async def test_extend_keeps_lease_alive(backend: Backend) -> None:
    await backend.enqueue([record("t")])
    (d,) = await backend.fetch("default", 1, 0.5, "w1", 0)
    for _ in range(4):
        await asyncio.sleep(0.2)
        await backend.extend([d], 0.5)
        await backend.recover_expired("default")
        assert await backend.fetch("default", 1, 30, "w2", 0) == []


async def test_release_requeues_now(backend: Backend) -> None:
    r = record("t")
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w1", 0)
    await backend.release([d])
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == "new"
    (again,) = await backend.fetch("default", 1, 30, "w2", 0)
    assert again.record.uuid == r.uuid


async def test_fetch_waits_for_new_work(backend: Backend) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await backend.enqueue([record("t")])

    start = time.monotonic()
    task = asyncio.create_task(later())
    got = await backend.fetch("default", 1, 30, "w", 3.0)
    await task
    assert len(got) == 1
    assert time.monotonic() - start < 1.5


async def test_fetch_empty_returns_after_wait(backend: Backend) -> None:
    start = time.monotonic()
    assert await backend.fetch("default", 1, 30, "w", 0.2) == []
    assert 0.15 < time.monotonic() - start < 2.0


async def test_delayed_task_waits_for_eta(backend: Backend) -> None:
    r = record("t")
    r.eta = time.time() + 0.4
    await backend.enqueue([r])
    assert await backend.fetch("default", 1, 30, "w", 0) == []
    got = await backend.fetch("default", 1, 30, "w", 2.0)
    assert [d.record.uuid for d in got] == [r.uuid]


async def test_wait_final_is_woken(backend: Backend) -> None:
    r = record("t")
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)

    async def finish() -> None:
        await asyncio.sleep(0.05)
        await backend.complete([Completion(d, finished(d.record, 7))])

    task = asyncio.create_task(finish())
    start = time.monotonic()
    got = await backend.wait_final(r.uuid, 5)
    await task
    assert got is not None and got.returning == 7
    assert time.monotonic() - start < 1.0


async def test_wait_final_times_out(backend: Backend) -> None:
    r = record("t")
    await backend.enqueue([r])
    start = time.monotonic()
    assert await backend.wait_final(r.uuid, 0.2) is None
    assert time.monotonic() - start < 1.5


async def test_cancel_queued_task(backend: Backend) -> None:
    requires(backend, "cancel_queued", "a queued task cannot be taken out of its queue")
    r = record("t")
    await backend.enqueue([r])
    cancelled = await backend.cancel(r.uuid, "not needed")
    assert cancelled is not None and cancelled.status == "cancel"
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == "cancel"
    assert stored.extra["cancel_reason"] == "not needed"
    assert await backend.fetch("default", 1, 30, "w", 0) == []


async def test_cancel_running_task_leaves_a_request(backend: Backend) -> None:
    requires(backend, "cancel_queued", "a queued task cannot be taken out of its queue")
    r = record("t")
    other = record("t")
    await backend.enqueue([r, other])
    await backend.fetch("default", 2, 30, "w", 0)
    assert await backend.cancel_requests([r.uuid, other.uuid]) == {}
    requested = await backend.cancel(r.uuid, "late")
    assert requested is not None and requested.status == "process"
    assert await backend.cancel_requests([r.uuid, other.uuid]) == {r.uuid: "late"}


async def test_cancel_finished_or_unknown_is_none(backend: Backend) -> None:
    requires(backend, "cancel_queued", "a queued task cannot be taken out of its queue")
    r = record("t")
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    await backend.complete([Completion(d, finished(d.record, 1))])
    assert await backend.cancel(r.uuid, "too late") is None
    assert await backend.cancel(str(uuid.uuid4()), "who") is None


async def test_followups_enqueued_with_completion(backend: Backend) -> None:
    r = record("t")
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    child = record("t", 0, "again")
    final = finished(d.record, None, status="retry")
    final.extra["retry_child_uuid"] = child.uuid
    await backend.complete([Completion(d, final, [child])])
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == "retry"
    (d2,) = await backend.fetch("default", 1, 30, "w", 0)
    assert d2.record.uuid == child.uuid and d2.record.args == ["again"]


async def test_finished_records_expire(make_backend: Callable[..., Backend]) -> None:
    backend = make_backend(result_ttl=0.3)
    try:
        r = record("t")
        await backend.enqueue([r])
        (d,) = await backend.fetch("default", 1, 30, "w", 0)
        await backend.complete([Completion(d, finished(d.record, 1))])
        assert await backend.get(r.uuid) is not None
        await asyncio.sleep(0.5)
        await backend.recover_expired("default")
        assert await backend.get(r.uuid) is None
    finally:
        await backend.purge()
        await backend.close()


async def test_namespaces_are_isolated(make_backend: Callable[..., Backend]) -> None:
    a, b = make_backend("app-a"), make_backend("app-b")
    try:
        ra = record("same")
        await a.enqueue([ra])
        assert await b.get(ra.uuid) is None
        assert await b.fetch("default", 10, 30, "w", 0) == []
        assert [d.record.uuid for d in await a.fetch("default", 10, 30, "w", 0)] == [ra.uuid]
    finally:
        for x in (a, b):
            await x.purge()
            await x.close()


async def test_queues_are_separate(backend: Backend) -> None:
    r = record("t")
    r.queue = "emails"
    await backend.enqueue([r])
    assert await backend.fetch("default", 1, 30, "w", 0) == []
    assert len(await backend.fetch("emails", 1, 30, "w", 0)) == 1


async def test_worker_registry(backend: Backend) -> None:
    await backend.register_worker("w1", {"host": "h"}, 0.3)
    live = await backend.live_workers()
    assert [w["worker_id"] for w in live] == ["w1"] and live[0]["host"] == "h"
    await asyncio.sleep(0.4)
    assert await backend.live_workers() == []
    await backend.register_worker("w2", {}, 30)
    await backend.unregister_worker("w2")
    assert await backend.live_workers() == []


async def test_sync_client_twins(backend: Backend) -> None:
    def client() -> None:
        r = record("t", 0, 1)
        backend.enqueue_sync([r])
        got = backend.get_sync(r.uuid)
        assert got is not None and got.args == [1]
        assert backend.wait_final_sync(r.uuid, 0.1) is None
        if not backend.capabilities.cancel_queued:
            return  # cancel_sync is covered where cancel is (test_cancel_queued_task)
        other = record("t")
        backend.enqueue_sync([other])
        cancelled = backend.cancel_sync(other.uuid, "x")
        assert cancelled is not None and cancelled.status == "cancel"

    await asyncio.to_thread(client)


async def test_purge_removes_everything(backend: Backend) -> None:
    r = record("t")
    await backend.enqueue([r])
    await backend.purge()
    assert await backend.get(r.uuid) is None
    assert await backend.fetch("default", 1, 30, "w", 0) == []


async def test_cancelled_fetch_loses_nothing(backend: Backend) -> None:
    for _ in range(5):
        waiting = asyncio.create_task(backend.fetch("default", 10, 30, "w", 5.0))
        await asyncio.sleep(0.02)
        await backend.enqueue([record("t")])
        await asyncio.sleep(0)
        waiting.cancel()
        got = await asyncio.gather(waiting, return_exceptions=True)
        if isinstance(got[0], list):  # the fetch won the race: it owns the task
            await backend.complete([Completion(d, finished(d.record)) for d in got[0]])
    leftovers = await backend.fetch("default", 10, 30, "w2", 0)
    stats = await backend.stats()
    assert stats["leased"] == len(leftovers)
    assert stats["queued"] == 0
