"""Redis: a stored task that cannot be decoded is dead-lettered, not delivered, and the
tasks fetched with it are; the `DeadLetters` port (list, requeue, purge, expiry)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from qtasks.backends import Completion, Delivery, TaskRecord
from qtasks.backends.redis import RedisBackend, codec, flows
from qtasks.backends.redis.commands import Flow
from qtasks.configs import QueueConfig
from qtasks.core import ports
from qtasks.exc import ArgumentTypeError, BackendError, ConfigError
from qtasks.logs import Logger

URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.anyio


def make(result_ttl: float = 3600.0) -> RedisBackend:
    ns = f"dl-{uuid.uuid4().hex[:8]}"
    config = QueueConfig(result_ttl=result_ttl)
    return RedisBackend(URL, namespace=ns, config=config, log=Logger("redis-dl"))


def rec(i: int = 0, priority: int = 0, queue: str = "default") -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", priority, [i], {}, "new", now, now, queue=queue)


def finish(d: Delivery) -> Completion:
    r = d.record
    r.status, r.returning = "success", r.args[0]
    return Completion(d, r)


def give_up(d: Delivery, reason: str = "delivered 5 times without a report") -> Completion:
    """What the engine hands in for a task it takes out of delivery."""
    r = d.record
    r.status, r.traceback = "error", reason
    r.extra["dead_letter"] = reason
    return Completion(d, r, dead_letter=reason)


@pytest.fixture
async def backend() -> AsyncIterator[RedisBackend]:
    b = make()
    yield b
    await b.purge()
    await b.close()


@pytest.fixture
def raw() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(URL)
    yield client
    client.close()


def spoil(raw: redis.Redis, b: RedisBackend, task: TaskRecord, value: bytes) -> None:
    """Overwrite a queued task's stored text (its queue entry stays)."""
    assert raw.set(b.prefix + "t:" + task.uuid, value, xx=True)


async def four_with_one_bad(
    b: RedisBackend, raw: redis.Redis, value: bytes | None = None
) -> tuple[list[TaskRecord], TaskRecord]:
    """Three good tasks around a bad one, queued in this order."""
    tasks = [rec(i) for i in range(4)]
    await b.enqueue(tasks)
    bad = tasks[2]
    if value is None:
        value = b'{"status": "new"\n["t",0,[2],{},0,null,null,{},null]'
    spoil(raw, b, bad, value)
    return [tasks[0], tasks[1], tasks[3]], bad


# --- decode before take ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        b'{"status": "new"\n["t",0,[2],{},0,null,null,{},null]',  # header not JSON
        b"no header line at all",
        b'{"a": 1}\n["t",0,[2],{},0,null,null,{},null]',  # JSON, but not a header
        b'["new","x","1.0","default","m","",null]\n[]',  # attempts not a number
        b'["new",1e999,"1.0","default","m","",null]\n[]',  # decodes, cannot be encoded
    ],
    ids=["not-json", "no-newline", "not-a-list", "bad-field", "infinite"],
)
async def test_undecodable_header_is_dead_lettered_and_the_batch_delivered(
    backend: RedisBackend, raw: redis.Redis, value: bytes
) -> None:
    good, bad = await four_with_one_bad(backend, raw, value)
    got = await backend.fetch("default", 10, 30, "w", 0)
    assert [d.record.uuid for d in got] == [t.uuid for t in good]
    assert all(d.record.status == "process" and d.record.attempts == 1 for d in got)
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 3}

    record = await backend.get(bad.uuid)
    assert record is not None and record.status == "error"
    assert "cannot be decoded" in record.extra["dead_letter"]
    assert record.traceback and "cannot be decoded" in record.traceback
    (dead,) = await backend.dead_letters()
    assert (dead.uuid, dead.queue, dead.record) == (bad.uuid, "default", None)
    assert dead.raw == value.decode()
    assert "cannot be decoded" in dead.reason
    assert abs(dead.dead_at - time.time()) < 5

    await backend.complete([finish(d) for d in got])
    assert await backend.fetch("default", 10, 30, "w", 0) == []


async def test_header_failure_keeps_what_the_body_tells(
    backend: RedisBackend, raw: redis.Redis
) -> None:
    _, bad = await four_with_one_bad(backend, raw, b'oops\n["named",7,[1],{},0,null,null,{},null]')
    await backend.fetch("default", 10, 30, "w", 0)
    record = await backend.get(bad.uuid)
    assert record is not None
    assert (record.task_name, record.priority, record.status) == ("named", 7, "error")


async def test_undecodable_body_dead_letters_that_delivery_only(
    backend: RedisBackend, raw: redis.Redis
) -> None:
    head = b'["new",0,"1.0","default","m","",null]\n'
    good, bad = await four_with_one_bad(backend, raw, head + b"{this is not json")
    # The member must stay the one the queue holds: rewrite the header from the store.
    stored = raw.get(backend.prefix + "t:" + good[0].uuid)
    assert stored is not None
    member = (
        stored.split(b"\n")[0]
        .split(b",")[4]
        .strip(b'"')
        .replace(good[0].uuid.encode(), bad.uuid.encode())
    )
    spoil(raw, backend, bad, head.replace(b'"m"', b'"' + member + b'"') + b"{this is not json")

    got = await backend.fetch("default", 10, 0.3, "w", 0)
    assert [d.record.uuid for d in got] == [t.uuid for t in good]
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 3}
    record = await backend.get(bad.uuid)
    assert record is not None and record.status == "error"
    assert "body is not JSON" in record.extra["dead_letter"]
    (dead,) = await backend.dead_letters()
    assert dead.uuid == bad.uuid and dead.record is None
    assert dead.raw is not None and dead.raw.endswith("{this is not json")

    # Not leased, so not handed out again at every lease expiry: only the good ones are.
    await asyncio.sleep(0.5)
    again = await backend.fetch("default", 10, 30, "w", 0)
    assert sorted(d.record.uuid for d in again) == sorted(t.uuid for t in good)
    assert all(d.record.attempts == 2 for d in again)
    assert len(await backend.dead_letters()) == 1


async def test_a_body_of_the_wrong_shape_is_dead_lettered(
    backend: RedisBackend, raw: redis.Redis
) -> None:
    (task,) = [rec(1)]
    await backend.enqueue([task])
    key = backend.prefix + "t:" + task.uuid
    stored = raw.get(key)
    assert stored is not None
    spoil(raw, backend, task, stored.split(b"\n")[0] + b'\n["t", 0, "args", {}]')
    assert await backend.fetch("default", 10, 30, "w", 0) == []
    (dead,) = await backend.dead_letters()
    assert "not a task body" in dead.reason
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 0}


@pytest.mark.parametrize(
    "value",
    [b"garbage", b'["process",1e999,"1.0","default","m","x",null]\n[]'],
    ids=["text", "inf"],
)
async def test_a_leased_task_that_became_unreadable_is_dead_lettered_on_recovery(
    backend: RedisBackend, raw: redis.Redis, value: bytes
) -> None:
    task = rec()
    await backend.enqueue([task])
    await backend.fetch("default", 1, 0.05, "w", 0)
    spoil(raw, backend, task, value)
    await asyncio.sleep(0.2)
    await backend.recover_expired("default")
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 0}
    (dead,) = await backend.dead_letters()
    assert (dead.uuid, dead.raw) == (task.uuid, value.decode())


async def test_reading_an_undecodable_task_names_it(
    backend: RedisBackend, raw: redis.Redis
) -> None:
    task = rec()
    await backend.enqueue([task])
    spoil(raw, backend, task, b"garbage")
    with pytest.raises(BackendError, match=task.uuid):
        await backend.get(task.uuid)


# --- the DeadLetters port --------------------------------------------------------------------
async def test_declared_and_implemented(backend: RedisBackend) -> None:
    assert backend.capabilities.dead_letters
    assert isinstance(backend, ports.DeadLetters)


async def test_complete_with_dead_letter_is_one_step(backend: RedisBackend) -> None:
    task = rec(3)
    await backend.enqueue([task])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    await backend.complete([give_up(d)])
    assert await backend.stats() == {"queued": 0, "delayed": 0, "leased": 0}
    stored = await backend.get(task.uuid)
    assert stored is not None and stored.status == "error"
    (dead,) = await backend.dead_letters()
    assert (dead.uuid, dead.queue, dead.reason) == (task.uuid, "default", give_up(d).dead_letter)
    assert dead.raw is None and dead.record == stored


async def test_a_stale_dead_letter_completion_changes_nothing(backend: RedisBackend) -> None:
    task = rec()
    await backend.enqueue([task])
    (first,) = await backend.fetch("default", 1, 0.05, "a", 0)
    await asyncio.sleep(0.1)
    (second,) = await backend.fetch("default", 1, 30, "b", 0)
    await backend.complete([give_up(first)])
    assert await backend.dead_letters() == []
    stored = await backend.get(task.uuid)
    assert stored is not None and stored.status == "process"
    await backend.complete([finish(second)])


async def test_listing_is_newest_first_with_limit_and_offset(backend: RedisBackend) -> None:
    tasks = [rec(i) for i in range(5)]
    await backend.enqueue(tasks)
    for _ in tasks:  # one at a time: each its own dead_at
        (d,) = await backend.fetch("default", 1, 30, "w", 0)
        await backend.complete([give_up(d)])
    newest_first = [t.uuid for t in reversed(tasks)]
    assert [x.uuid for x in await backend.dead_letters()] == newest_first
    assert [x.uuid for x in await backend.dead_letters(2, 1)] == newest_first[1:3]
    assert await backend.dead_letters(0) == []
    assert await backend.dead_letters(10, 5) == []
    with pytest.raises(ConfigError, match="limit"):
        await backend.dead_letters(-1)


async def test_requeue_queues_the_same_task_afresh(backend: RedisBackend, raw: redis.Redis) -> None:
    task = rec(9, priority=3, queue="mail")
    await backend.enqueue([task])
    (d,) = await backend.fetch("mail", 1, 30, "w", 0)
    await backend.complete([give_up(d)])
    _, undecodable = await four_with_one_bad(backend, raw)
    await backend.fetch("default", 10, 30, "w", 0)
    assert len(await backend.dead_letters()) == 2

    assert await backend.requeue_dead_letters() == 1
    (left,) = await backend.dead_letters()  # not decodable: cannot be queued, stays listed
    assert left.uuid == undecodable.uuid
    again = await backend.get(task.uuid)
    assert again is not None
    assert (again.status, again.attempts, again.queue, again.priority) == ("new", 0, "mail", 3)
    assert "dead_letter" not in again.extra and again.traceback is None
    assert (await backend.stats("mail"))["queued"] == 1
    (d2,) = await backend.fetch("mail", 1, 30, "w", 0)
    assert (d2.record.uuid, d2.record.args, d2.record.attempts) == (task.uuid, [9], 1)
    await backend.complete([finish(d2)])
    assert await backend.requeue_dead_letters() == 0


async def test_requeue_and_purge_chosen_uuids(backend: RedisBackend) -> None:
    tasks = [rec(i) for i in range(3)]
    await backend.enqueue(tasks)
    got = await backend.fetch("default", 3, 30, "w", 0)
    await backend.complete([give_up(d) for d in got])
    assert await backend.requeue_dead_letters([tasks[0].uuid, "unknown"]) == 1
    assert await backend.requeue_dead_letters([]) == 0
    assert {x.uuid for x in await backend.dead_letters()} == {tasks[1].uuid, tasks[2].uuid}
    assert await backend.purge_dead_letters([tasks[1].uuid, "unknown"]) == 1
    assert [x.uuid for x in await backend.dead_letters()] == [tasks[2].uuid]
    assert await backend.purge_dead_letters() == 1
    assert await backend.dead_letters() == []
    kept = await backend.get(tasks[1].uuid)  # purging dead letters keeps their records
    assert kept is not None and kept.status == "error"
    with pytest.raises(ArgumentTypeError, match="list of uuids"):
        await backend.requeue_dead_letters(tasks[0].uuid)


def test_requeue_leaves_a_record_changed_while_it_was_read(raw: redis.Redis) -> None:
    b = make()
    try:
        task = rec()
        b.enqueue_sync([task])

        async def give_up_one() -> None:
            (d,) = await b.fetch("default", 1, 30, "w", 0)
            await b.complete([give_up(d)])

        asyncio.run(give_up_one())

        def change() -> None:  # between the read and the write of the requeue
            stored = b.get_sync(task.uuid)
            assert stored is not None
            stored.returning = "changed"
            raw.set(b.prefix + "t:" + task.uuid, codec.final_value(stored))

        def racing(flow: Flow) -> Flow:
            step, changed = next(flow), False
            while True:
                reply = yield step
                if not changed:
                    change()
                    changed = True
                try:
                    step = flow.send(reply)
                except StopIteration as stop:
                    return stop.value

        assert b._drive_sync(racing(flows.requeue_dead_letters(None, 60))) == 0
        stored = b.get_sync(task.uuid)
        assert stored is not None and (stored.status, stored.returning) == ("error", "changed")
        assert [x.uuid for x in b.dead_letters_sync()] == [task.uuid]
    finally:
        b.purge_sync()
        b.close_sync()


def test_sync_twins() -> None:
    b = make()
    try:
        task = rec()
        b.enqueue_sync([task])

        async def give_up_one() -> None:
            (d,) = await b.fetch("default", 1, 30, "w", 0)
            await b.complete([give_up(d)])

        asyncio.run(give_up_one())
        (dead,) = b.dead_letters_sync()
        assert dead.uuid == task.uuid
        assert b.requeue_dead_letters_sync() == 1
        assert b.dead_letters_sync() == []
        asyncio.run(give_up_one())
        assert b.purge_dead_letters_sync([task.uuid]) == 1
        assert b.dead_letters_sync(10, 0) == []
    finally:
        b.purge_sync()
        b.close_sync()


async def test_purge_removes_the_dead_letters(backend: RedisBackend, raw: redis.Redis) -> None:
    await four_with_one_bad(backend, raw)
    await backend.fetch("default", 10, 30, "w", 0)
    assert raw.exists(backend.prefix + "dl")
    await backend.purge()
    assert list(raw.scan_iter(backend.prefix.replace("{", "[{]") + "*")) == []


async def test_entries_expire_with_their_records(raw: redis.Redis) -> None:
    b = make(result_ttl=1.0)
    try:
        first = [rec(i) for i in range(2)]
        await b.enqueue(first)
        got = await b.fetch("default", 2, 30, "w", 0)
        await b.complete([give_up(d) for d in got])
        assert len(await b.dead_letters()) == 2
        assert 0 < raw.pttl(b.prefix + "dl:" + first[0].uuid) <= 1000
        await asyncio.sleep(1.3)
        assert await b.dead_letters() == []
        assert raw.zcard(b.prefix + "dl") == 0  # the index does not keep them either
        # A dead letter written later drops the index members that expired meanwhile.
        task = rec()
        await b.enqueue([task])
        (d,) = await b.fetch("default", 1, 30, "w", 0)
        raw.zadd(b.prefix + "dl", {"long-gone": time.time() - 10})
        await b.complete([give_up(d)])
        assert raw.zrange(b.prefix + "dl", 0, -1) == [task.uuid.encode()]
    finally:
        await b.purge()
        await b.close()


async def test_thousands_of_dead_letters(backend: RedisBackend) -> None:
    """Past the scripts' chunk sizes (a Lua unpack takes some 8000 values at most)."""
    tasks = [rec(i) for i in range(1200)]
    await backend.enqueue(tasks)
    got = await backend.fetch("default", 1200, 30, "w", 0)
    await backend.complete([give_up(d) for d in got])
    assert len(await backend.dead_letters(5000)) == 1200
    uuids = [t.uuid for t in tasks]
    assert await backend.requeue_dead_letters(uuids[:700] + ["unknown"] * 10000) == 700
    assert await backend.requeue_dead_letters() == 500
    assert (await backend.stats())["queued"] == 1200
    got = await backend.fetch("default", 1200, 30, "w", 0)
    await backend.complete([give_up(d) for d in got])
    assert await backend.purge_dead_letters(uuids + ["unknown"] * 10000) == 1200
    assert await backend.dead_letters() == []
