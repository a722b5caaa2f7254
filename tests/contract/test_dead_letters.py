"""Dead letters (`qtasks.core.ports.DeadLetters`) on every backend: completions the
engine gives up on are stored and listed, requeued under their own uuid, and purged."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

import pytest

from qtasks.backends import Backend, Completion, Delivery, TaskRecord
from qtasks.core import ports
from qtasks.core.models import DeadLetter
from qtasks.core.status import ERROR, NEW, PROCESS, SUCCESS

from .conftest import lease_expiry

pytestmark = pytest.mark.anyio


def record(*args: object) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, list(args), {}, NEW, now, now)


def given_up(d: Delivery, reason: str) -> Completion:
    """What the engine completes a task with when it takes it out of delivery."""
    final = dataclasses.replace(
        d.record,
        status=ERROR,
        updated_at=time.time(),
        traceback=f"given up: {reason}",
        extra={**d.record.extra, "dead_letter": reason},
    )
    return Completion(d, final, dead_letter=reason)


def letters_of(backend: Backend) -> ports.DeadLetters:
    if not backend.capabilities.dead_letters:
        pytest.skip(f"{backend!r} does not declare the dead_letters capability")
    assert isinstance(backend, ports.DeadLetters)
    return backend


async def dead(backend: Backend, n: int) -> list[TaskRecord]:
    """`n` tasks, fetched and dead-lettered one after the other (oldest first)."""
    rs = [record(i) for i in range(n)]
    await backend.enqueue(rs)
    got = await backend.fetch("default", n, 30, "w", 0)
    assert len(got) == n
    for i, d in enumerate(sorted(got, key=lambda d: d.record.args[0])):
        await backend.complete([given_up(d, f"died {i}")])
        await asyncio.sleep(0.01)  # distinct times: the order is by when
    return rs


async def test_a_dead_lettered_completion_is_stored_and_listed(backend: Backend) -> None:
    box = letters_of(backend)
    (r,) = await dead(backend, 1)
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == ERROR
    assert stored.extra["dead_letter"] == "died 0"
    (letter,) = await box.dead_letters()
    assert isinstance(letter, DeadLetter)
    assert (letter.uuid, letter.queue, letter.reason) == (r.uuid, "default", "died 0")
    assert letter.raw is None and letter.record is not None
    assert letter.record.status == ERROR and letter.record.args == [0]
    assert abs(letter.dead_at - time.time()) < 30
    assert (await backend.stats())["leased"] == 0
    assert await backend.fetch("default", 1, 30, "w", 0) == []


async def test_dead_letters_are_listed_newest_first_in_pages(backend: Backend) -> None:
    box = letters_of(backend)
    rs = await dead(backend, 3)
    newest_first = [r.uuid for r in reversed(rs)]
    assert [x.uuid for x in await box.dead_letters()] == newest_first
    assert [x.reason for x in await box.dead_letters()] == ["died 2", "died 1", "died 0"]
    assert [x.uuid for x in await box.dead_letters(limit=2)] == newest_first[:2]
    assert [x.uuid for x in await box.dead_letters(limit=1, offset=1)] == newest_first[1:2]
    assert await box.dead_letters(limit=10, offset=3) == []


async def test_requeue_queues_a_dead_letter_again_as_new(backend: Backend) -> None:
    box = letters_of(backend)
    first, second = await dead(backend, 2)
    assert await box.requeue_dead_letters([first.uuid, str(uuid.uuid4())]) == 1
    stored = await backend.get(first.uuid)
    assert stored is not None and stored.status == NEW and stored.attempts == 0
    assert "dead_letter" not in stored.extra
    assert [x.uuid for x in await box.dead_letters()] == [second.uuid]
    (d,) = await backend.fetch("default", 10, 30, "w", 0)
    assert d.record.uuid == first.uuid and d.record.args == [0]
    assert d.record.status == PROCESS and d.record.attempts == 1
    final = dataclasses.replace(d.record, status=SUCCESS, returning="ok", updated_at=time.time())
    await backend.complete([Completion(d, final)])
    stored = await backend.get(first.uuid)
    assert stored is not None and stored.status == SUCCESS and stored.returning == "ok"
    assert await box.requeue_dead_letters([first.uuid]) == 0  # not a dead letter any more


async def test_requeue_of_all(backend: Backend) -> None:
    box = letters_of(backend)
    rs = await dead(backend, 3)
    assert await box.requeue_dead_letters() == 3
    assert await box.dead_letters() == []
    got = await backend.fetch("default", 10, 30, "w", 0)
    assert sorted(d.record.uuid for d in got) == sorted(r.uuid for r in rs)


async def test_purge_forgets_dead_letters_and_keeps_records(backend: Backend) -> None:
    box = letters_of(backend)
    first, second, third = await dead(backend, 3)
    assert await box.purge_dead_letters([second.uuid, str(uuid.uuid4())]) == 1
    assert [x.uuid for x in await box.dead_letters()] == [third.uuid, first.uuid]
    stored = await backend.get(second.uuid)
    assert stored is not None and stored.status == ERROR
    assert await box.purge_dead_letters() == 2
    assert await box.dead_letters() == []
    assert await box.purge_dead_letters() == 0
    assert await box.requeue_dead_letters() == 0
    for r in (first, third):
        kept = await backend.get(r.uuid)
        assert kept is not None and kept.status == ERROR


async def test_a_stale_completion_is_not_dead_lettered(backend: Backend) -> None:
    lease_expiry(backend)
    box = letters_of(backend)
    r = record()
    await backend.enqueue([r])
    (a,) = await backend.fetch("default", 1, 0.3, "worker-a", 0)
    await asyncio.sleep(0.5)
    await backend.recover_expired("default")
    (b,) = await backend.fetch("default", 1, 30, "worker-b", 2.0)
    await backend.complete([given_up(a, "too late")])
    assert await box.dead_letters() == []
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == PROCESS
    await backend.complete([given_up(b, "died again")])
    assert [x.reason for x in await box.dead_letters()] == ["died again"]


async def test_dead_letter_sync_twins(backend: Backend) -> None:
    box = letters_of(backend)
    first, second = await dead(backend, 2)

    def client() -> None:
        assert [x.uuid for x in box.dead_letters_sync()] == [second.uuid, first.uuid]
        assert [x.uuid for x in box.dead_letters_sync(1, 1)] == [first.uuid]
        assert box.requeue_dead_letters_sync([first.uuid]) == 1
        assert box.purge_dead_letters_sync(None) == 1
        assert box.dead_letters_sync() == []

    await asyncio.to_thread(client)
    (d,) = await backend.fetch("default", 10, 30, "w", 0)
    assert d.record.uuid == first.uuid


async def test_purge_of_the_namespace_removes_its_dead_letters(backend: Backend) -> None:
    box = letters_of(backend)
    await dead(backend, 2)
    await backend.purge()  # app.flush_all()
    assert await box.dead_letters() == []
    assert await box.requeue_dead_letters() == 0


async def test_dead_letters_expire_after_the_result_ttl(make_backend: Any) -> None:
    """A queue that keeps dead-lettering must not grow without bound: a dead letter is
    kept for `result_ttl` from when it was dead-lettered, then upkeep drops it."""
    backend = make_backend(result_ttl=1.0)
    box = letters_of(backend)
    await dead(backend, 2)
    assert len(await box.dead_letters()) == 2
    deadline = time.monotonic() + 10
    while await box.dead_letters():
        assert time.monotonic() < deadline, "dead letters outlived their result_ttl"
        await asyncio.sleep(0.3)
        await backend.recover_expired("default")
        await backend.expire()
