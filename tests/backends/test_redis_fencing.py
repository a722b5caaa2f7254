"""Redis: a stale lease holder's calls change nothing once another worker took the task;
an expired lease nobody took is still its holder's; `attempts` counts the deliveries
that were not given back."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis

from qtasks.backends import Completion, Delivery, TaskRecord
from qtasks.backends.redis import RedisBackend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LEASE = 0.05  # the stale holder's lease; the tests wait a few times as long

pytestmark = pytest.mark.anyio


def rec(i: int = 0) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, [i], {}, "new", now, now)


def finish(d: Delivery, value: object = "done") -> Completion:
    r = TaskRecord(**{f: getattr(d.record, f) for f in d.record.__slots__})  # a copy
    r.status, r.returning = "success", value
    return Completion(d, r)


@pytest.fixture
async def backend() -> AsyncIterator[RedisBackend]:
    ns = f"fence-{uuid.uuid4().hex[:8]}"
    b = RedisBackend(URL, namespace=ns, config=QueueConfig(), log=Logger("redis-fence"))
    yield b
    await b.purge()
    await b.close()


@pytest.fixture
def raw() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(URL)
    yield client
    client.close()


def snapshot(raw: redis.Redis, b: RedisBackend, task: TaskRecord) -> tuple[object, ...]:
    """Everything a call could change: the stored task, its queue entries and lease."""
    p = b.prefix
    return (
        raw.get(p + "t:" + task.uuid),
        raw.pttl(p + "t:" + task.uuid) > 0,
        raw.zrange(p + "q:default", 0, -1),
        raw.zrange(p + "z:default", 0, -1),
        raw.zrange(p + "l:default", 0, -1, withscores=True),
        raw.zrange(p + "dl", 0, -1),
    )


async def stale_and_current(b: RedisBackend) -> tuple[TaskRecord, Delivery, Delivery]:
    """A task whose first lease expired and that a second fetch took over."""
    task = rec()
    await b.enqueue([task])
    (stale,) = await b.fetch("default", 1, LEASE, "a", 0)
    await asyncio.sleep(LEASE * 3)
    (current,) = await b.fetch("default", 1, 30, "b", 0)
    assert current.record.uuid == task.uuid and current.token != stale.token
    return task, stale, current


STALE_CALLS: dict[str, Callable[[RedisBackend, Delivery], Awaitable[None]]] = {
    "ack": lambda b, d: b.ack([d]),
    "complete": lambda b, d: b.complete([finish(d, "stale")]),
    "dead-letter": lambda b, d: b.complete([Completion(d, finish(d).record, dead_letter="x")]),
    "extend": lambda b, d: b.extend([d], 300),
    "release": lambda b, d: b.release([d]),
    "nack": lambda b, d: b.nack([d]),
}


@pytest.mark.parametrize("call", list(STALE_CALLS))
async def test_a_stale_holder_changes_nothing(
    backend: RedisBackend, raw: redis.Redis, call: str
) -> None:
    task, stale, current = await stale_and_current(backend)
    before = snapshot(raw, backend, task)
    await STALE_CALLS[call](backend, stale)
    assert snapshot(raw, backend, task) == before
    # ... and the current holder's lease is intact: it completes as usual.
    await backend.complete([finish(current)])
    done = await backend.get(task.uuid)
    assert done is not None and (done.status, done.returning) == ("success", "done")
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 0}


async def expired(b: RedisBackend, requeued: bool) -> tuple[TaskRecord, Delivery]:
    """A delivery whose lease expired and nobody took; `requeued`: the upkeep put the
    task back in its queue meanwhile."""
    task = rec()
    await b.enqueue([task])
    (d,) = await b.fetch("default", 1, LEASE, "a", 0)
    await asyncio.sleep(LEASE * 3)
    if requeued:
        await b.recover_expired("default")
        assert (await b.stats())["queued"] == 1
    return task, d


@pytest.mark.parametrize("requeued", [False, True], ids=["leased", "requeued"])
async def test_an_expired_lease_nobody_took_completes(
    backend: RedisBackend, requeued: bool
) -> None:
    task, d = await expired(backend, requeued)
    await backend.complete([finish(d)])
    done = await backend.get(task.uuid)
    assert done is not None and done.status == "success"
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 0}
    assert await backend.fetch("default", 1, 30, "b", 0) == []  # it does not run again


@pytest.mark.parametrize("requeued", [False, True], ids=["leased", "requeued"])
async def test_an_expired_lease_nobody_took_is_acked(backend: RedisBackend, requeued: bool) -> None:
    _, d = await expired(backend, requeued)
    await backend.ack([d])
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 0}


@pytest.mark.parametrize("requeued", [False, True], ids=["leased", "requeued"])
async def test_an_expired_lease_nobody_took_is_extended(
    backend: RedisBackend, requeued: bool
) -> None:
    task, d = await expired(backend, requeued)
    await backend.extend([d], 30)
    await backend.recover_expired("default")
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 1}
    assert await backend.fetch("default", 1, 30, "b", 0) == []  # still the first holder's
    stored = await backend.get(task.uuid)
    assert stored is not None and (stored.status, stored.attempts) == ("process", 1)
    await backend.complete([finish(d)])
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 0}


@pytest.mark.parametrize("requeued", [False, True], ids=["leased", "requeued"])
async def test_an_expired_lease_nobody_took_is_released(
    backend: RedisBackend, requeued: bool
) -> None:
    task, d = await expired(backend, requeued)
    await backend.release([d])
    assert await backend.stats() == {"queued": 1, "delayed": 0, "leased": 0}
    (again,) = await backend.fetch("default", 1, 30, "b", 0)
    assert (again.record.uuid, again.record.attempts) == (task.uuid, 1)
    await backend.complete([finish(again)])


# --- delivery count --------------------------------------------------------------------------
@pytest.mark.parametrize("give_back", ["release", "nack"])
async def test_a_delivery_given_back_is_not_counted(backend: RedisBackend, give_back: str) -> None:
    task = rec()
    await backend.enqueue([task])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    assert d.record.attempts == 1
    await getattr(backend, give_back)([d])
    stored = await backend.get(task.uuid)
    assert stored is not None and (stored.status, stored.attempts) == ("new", 0)
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    assert d.record.attempts == 1
    await backend.complete([finish(d)])


async def test_an_expired_lease_is_counted(backend: RedisBackend) -> None:
    task = rec()
    await backend.enqueue([task])
    (d,) = await backend.fetch("default", 1, LEASE, "w", 0)
    await asyncio.sleep(LEASE * 3)
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    assert (d.record.uuid, d.record.attempts) == (task.uuid, 2)
    await backend.complete([finish(d)])


async def test_a_stale_completion_after_the_task_finished_changes_nothing(
    backend: RedisBackend, raw: redis.Redis
) -> None:
    task, stale, current = await stale_and_current(backend)
    await backend.complete([finish(current)])
    key = backend.prefix + "t:" + task.uuid
    before = raw.get(key)
    await backend.complete([finish(stale, "stale")])
    assert raw.get(key) == before and raw.pttl(key) > 0
    done = await backend.get(task.uuid)
    assert done is not None and done.returning == "done"


async def test_completing_a_task_gone_meanwhile_stores_nothing(
    backend: RedisBackend, raw: redis.Redis
) -> None:
    task = rec()
    await backend.enqueue([task])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    raw.delete(backend.prefix + "t:" + task.uuid)  # e.g. purged while it ran
    await backend.complete([finish(d)])
    assert await backend.get(task.uuid) is None
