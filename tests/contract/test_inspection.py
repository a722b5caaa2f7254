"""The inspection port (`core.ports.Inspection`) on every backend: listing with filters
and cursor paging, counts, purge by queue or status, pausing queues."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable

import pytest

from qtasks.backends import Backend, Completion, TaskRecord
from qtasks.core.inspection import TaskQuery
from qtasks.exc import ConfigError

pytestmark = pytest.mark.anyio


def record(name: str, queue: str = "default", created: float | None = None) -> TaskRecord:
    now = time.time() if created is None else created
    return TaskRecord(
        uuid=str(uuid.uuid4()),
        task_name=name,
        priority=0,
        args=[],
        kwargs={},
        status="new",
        created_at=now,
        updated_at=now,
        queue=queue,
    )


async def listed(backend: Backend, **filters: object) -> list[str]:
    """Every uuid the listing gives for `filters`, page by page (3 a page)."""
    query = TaskQuery(limit=3, **filters)  # type: ignore[arg-type]
    out: list[str] = []
    while True:
        page = await backend.list_tasks(query)  # type: ignore[attr-defined]
        assert len(page.records) <= 3
        out += [r.uuid for r in page.records]
        if page.cursor is None:
            return out
        query = dataclasses.replace(query, cursor=page.cursor)


async def test_listing_pages_newest_first_without_gaps(backend: Backend) -> None:
    base = time.time() - 100
    records = [record("a", created=base + i) for i in range(8)]
    records.append(record("a", created=base + 3))  # a tie on created_at
    await backend.enqueue(records)
    expected = [r.uuid for r in sorted(records, key=lambda r: (r.created_at, r.uuid))][::-1]
    assert await listed(backend) == expected
    first = await backend.list_tasks(TaskQuery(limit=8))  # type: ignore[attr-defined]
    assert [r.uuid for r in first.records] == expected[:8] and first.cursor is not None
    last = await backend.list_tasks(  # type: ignore[attr-defined]
        TaskQuery(limit=8, cursor=first.cursor)
    )
    assert [r.uuid for r in last.records] == expected[8:] and last.cursor is None


async def test_listing_filters_by_status_name_queue_and_time(backend: Backend) -> None:
    base = time.time() - 100
    a1, a2 = record("a", created=base + 1), record("a", "mail", created=base + 2)
    b1, b2 = record("b", created=base + 3), record("b", "mail", created=base + 4)
    await backend.enqueue([a1, a2, b1, b2])
    got = await backend.fetch("mail", 1, 30, "w", 0)  # the oldest of "mail": a2
    assert [d.record.uuid for d in got] == [a2.uuid]
    done = dataclasses.replace(got[0].record, status="error", updated_at=time.time())
    await backend.complete([Completion(got[0], done)])

    assert await listed(backend, status="error") == [a2.uuid]
    assert await listed(backend, status="new") == [b2.uuid, b1.uuid, a1.uuid]
    assert await listed(backend, task_name="a") == [a2.uuid, a1.uuid]
    assert await listed(backend, task_name="b", status="new", queue="mail") == [b2.uuid]
    assert await listed(backend, queue="mail") == [b2.uuid, a2.uuid]
    assert await listed(backend, since=base + 2, until=base + 4) == [b1.uuid, a2.uuid]
    assert await listed(backend, status="process") == []
    assert await listed(backend, task_name="nobody") == []


async def test_listing_follows_status_changes(backend: Backend) -> None:
    r = record("a")
    await backend.enqueue([r])
    [d] = await backend.fetch("default", 1, 30, "w", 0)
    assert await listed(backend, status="process") == [r.uuid]
    assert await listed(backend, status="new") == []
    await backend.release([d])
    assert await listed(backend, status="new") == [r.uuid]
    [d] = await backend.fetch("default", 1, 30, "w", 0)
    final = dataclasses.replace(d.record, status="success", returning=1, updated_at=time.time())
    await backend.complete([Completion(d, final)])
    assert await listed(backend, status="success") == [r.uuid]
    assert await listed(backend, status="process") == []
    [page] = [await backend.list_tasks(TaskQuery(status="success"))]  # type: ignore[attr-defined]
    assert page.records[0].returning == 1


async def test_counts_by_queue_and_status(backend: Backend) -> None:
    await backend.enqueue([record("a"), record("a"), record("b", "mail")])
    [d] = await backend.fetch("mail", 1, 30, "w", 0)
    assert await backend.count_tasks() == {  # type: ignore[attr-defined]
        "default": {"new": 2},
        "mail": {"process": 1},
    }
    assert backend.count_tasks_sync() == await backend.count_tasks()  # type: ignore[attr-defined]
    await backend.ack([d])


async def test_purge_by_queue_or_status(backend: Backend) -> None:
    keep, mail = record("a"), record("b", "mail")
    failed = record("c")
    await backend.enqueue([keep, mail, failed])
    got = await backend.fetch("default", 2, 30, "w", 0)
    by_uuid = {d.record.uuid: d for d in got}
    d = by_uuid[failed.uuid]
    await backend.complete([Completion(d, dataclasses.replace(d.record, status="error"))])
    await backend.release([by_uuid[keep.uuid]])

    assert await backend.purge_tasks(queue="mail") == 1  # type: ignore[attr-defined]
    assert gone(await backend.get(mail.uuid))
    assert await backend.fetch("mail", 10, 30, "w", 0) == []  # it will not run
    assert await backend.purge_tasks(status="error") == 1  # type: ignore[attr-defined]
    assert await backend.get(failed.uuid) is None
    assert await listed(backend, status="new") == [keep.uuid]
    assert (await backend.count_tasks())["default"] == {"new": 1}  # type: ignore[attr-defined]
    assert backend.purge_tasks_sync(status="new") == 1  # type: ignore[attr-defined]
    assert await listed(backend, status="new") == []
    assert await backend.fetch("default", 10, 30, "w", 0) == []


def gone(found: TaskRecord | None) -> bool:
    """Purged: deleted, or, behind a broker that keeps its messages (RabbitMQ, NATS), a
    `cancel` record whose message a worker drops unrun."""
    return found is None or (found.status, found.extra.get("cancel_reason")) == (
        "cancel",
        "purged",
    )


async def test_pause_and_resume_queues(make_backend: Callable[..., Backend]) -> None:
    backend, other = make_backend(), make_backend()
    assert await backend.paused_queues() == []  # type: ignore[attr-defined]
    await backend.pause_queue("mail")  # type: ignore[attr-defined]
    backend.pause_queue_sync("default")  # type: ignore[attr-defined]
    await backend.pause_queue("mail")  # type: ignore[attr-defined]  # twice is once
    assert await other.paused_queues() == ["default", "mail"]  # type: ignore[attr-defined]
    await other.resume_queue("mail")  # type: ignore[attr-defined]
    assert backend.paused_queues_sync() == ["default"]  # type: ignore[attr-defined]
    await backend.resume_queue("default")  # type: ignore[attr-defined]
    assert await backend.paused_queues() == []  # type: ignore[attr-defined]
    await backend.purge()


async def test_listing_keeps_namespaces_apart(make_backend: Callable[..., Backend]) -> None:
    mine, theirs = make_backend(), make_backend(f"other-{uuid.uuid4().hex[:6]}")
    r = record("a")
    await mine.enqueue([r])
    await theirs.enqueue([record("a")])
    assert await listed(mine) == [r.uuid]
    assert backend_sync_listing(mine) == [r.uuid]
    await theirs.pause_queue("default")  # type: ignore[attr-defined]
    assert await mine.paused_queues() == []  # type: ignore[attr-defined]
    await theirs.purge()
    await mine.purge()


def backend_sync_listing(backend: Backend) -> list[str]:
    page = backend.list_tasks_sync(TaskQuery())  # type: ignore[attr-defined]
    return [r.uuid for r in page.records]


def test_query_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="status"):
        TaskQuery(status="done")
    with pytest.raises(ConfigError, match="limit"):
        TaskQuery(limit=0)
    with pytest.raises(ConfigError, match="cursor"):
        TaskQuery(cursor="nonsense")


async def test_a_worker_asks_whether_its_queue_is_paused(backend: Backend) -> None:
    assert await backend.queue_paused("mail") is False  # type: ignore[attr-defined]
    await backend.pause_queue("mail")  # type: ignore[attr-defined]
    assert await backend.queue_paused("mail") is True  # type: ignore[attr-defined]
    assert await backend.queue_paused("default") is False  # type: ignore[attr-defined]
    await backend.resume_queue("mail")  # type: ignore[attr-defined]
    assert await backend.queue_paused("mail") is False  # type: ignore[attr-defined]
