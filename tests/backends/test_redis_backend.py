"""Redis-specific behaviour beyond the contract suite, on the local server (db 15)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from qtasks.backends import Completion, Delivery, TaskRecord
from qtasks.backends.redis import RedisBackend
from qtasks.backends.redis import codec as lua
from qtasks.backends.redis import flows as redis_backend
from qtasks.compat.redis_components import (
    AsyncRedisBroker,
    AsyncRedisGlobalConfig,
    SyncRedisBroker,
    SyncRedisStorage,
)
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def make(namespace: str | None = None, url: str = URL) -> RedisBackend:
    ns = namespace or f"rt-{uuid.uuid4().hex[:8]}"
    return RedisBackend(url, namespace=ns, config=QueueConfig(), log=Logger("redis-test"))


def rec(i: int = 0, priority: int = 0) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", priority, [i], {}, "new", now, now)


def finish(d: Delivery) -> Completion:
    r = d.record
    r.status, r.returning = "success", r.args[0]
    return Completion(d, r)


@pytest.fixture
async def backend() -> AsyncIterator[RedisBackend]:
    b = make()
    yield b
    await b.purge()
    await b.close()


@pytest.fixture
def sync_backend() -> Iterator[RedisBackend]:
    b = make()
    yield b
    b.purge_sync()
    b.close_sync()


@pytest.mark.anyio
async def test_blocked_fetch_wakes_within_milliseconds(backend: RedisBackend) -> None:
    delays = []
    for i in range(5):
        waiting = asyncio.create_task(backend.fetch("default", 1, 30, "w", 5.0))
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        await backend.enqueue([rec(i)])
        got = await waiting
        delays.append(time.perf_counter() - start)
        await backend.complete([finish(d) for d in got])
    assert sorted(delays)[2] < 0.02, delays  # median; the push is ~2 round trips


@pytest.mark.anyio
async def test_every_waiter_of_a_task_is_woken(backend: RedisBackend) -> None:
    r = rec(5)
    await backend.enqueue([r])
    waiters = [asyncio.create_task(backend.wait_final(r.uuid, 5)) for _ in range(3)]
    sync_waiter = asyncio.create_task(asyncio.to_thread(backend.wait_final_sync, r.uuid, 5))
    await asyncio.sleep(0.1)
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    start = time.perf_counter()
    await backend.complete([finish(d)])
    results = await asyncio.gather(*waiters, sync_waiter)
    assert time.perf_counter() - start < 0.5
    assert [x.returning for x in results if x is not None] == [5, 5, 5, 5]


@pytest.mark.anyio
async def test_wait_final_sees_cancel(backend: RedisBackend) -> None:
    r = rec()
    await backend.enqueue([r])
    waiting = asyncio.create_task(backend.wait_final(r.uuid, 5))
    await asyncio.sleep(0.05)
    await backend.cancel(r.uuid, "stop")
    got = await asyncio.wait_for(waiting, 1)
    assert got is not None and got.status == "cancel"
    assert got.extra["cancel_reason"] == "stop"


def test_sync_round_trip_against_an_async_worker(sync_backend: RedisBackend) -> None:
    stop = threading.Event()

    def worker() -> None:
        async def run() -> None:
            while not stop.is_set():
                got = await sync_backend.fetch("default", 10, 30, "w", 0.2)
                await sync_backend.complete([finish(d) for d in got])
            await sync_backend.close()

        asyncio.run(run())

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        for i in range(20):
            r = rec(i)
            sync_backend.enqueue_sync([r])
            got = sync_backend.wait_final_sync(r.uuid, 5)
            assert got is not None and got.returning == i
    finally:
        stop.set()
        thread.join()


def test_one_backend_across_event_loops(sync_backend: RedisBackend) -> None:
    async def roundtrip(i: int) -> int:
        r = rec(i)
        await sync_backend.enqueue([r])
        (d,) = await sync_backend.fetch("default", 1, 30, "w", 1)
        await sync_backend.complete([finish(d)])
        got = await sync_backend.wait_final(r.uuid, 1)
        assert got is not None
        return int(got.returning)

    assert asyncio.run(roundtrip(1)) == 1  # its loop closes without close()
    assert asyncio.run(roundtrip(2)) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_gets_its_own_connections(sync_backend: RedisBackend) -> None:
    parent = rec(1)
    sync_backend.enqueue_sync([parent])  # the parent holds a connection now
    child = rec(2)
    with warnings.catch_warnings():  # 3.12+ warns about forking a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            sync_backend.enqueue_sync([child])
            code = 0 if sync_backend.get_sync(parent.uuid) is not None else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sync_backend.get_sync(child.uuid) is not None  # parent's connection unharmed


@pytest.mark.anyio
async def test_enqueue_is_idempotent_per_uuid(backend: RedisBackend) -> None:
    r = rec()
    await backend.enqueue([r])
    await backend.enqueue([r])  # e.g. a call retried after a lost reply
    await backend.enqueue([r, rec()])
    assert (await backend.stats())["queued"] == 2


@pytest.mark.anyio
async def test_extreme_priorities_keep_order(backend: RedisBackend) -> None:
    prios = [2**40, -(2**40), 0, -1, 1, 2**31 - 1]
    await backend.enqueue([rec(p, p) for p in prios])
    got = await backend.fetch("default", 10, 30, "w", 0)
    assert [d.record.priority for d in got] == sorted(prios)


@pytest.mark.anyio
async def test_cancel_delayed_task(backend: RedisBackend) -> None:
    r = rec()
    r.eta = time.time() + 60
    await backend.enqueue([r])
    assert (await backend.stats())["delayed"] == 1
    cancelled = await backend.cancel(r.uuid, "no")
    assert cancelled is not None and cancelled.status == "cancel"
    assert (await backend.stats())["queued"] == 0


@pytest.mark.anyio
async def test_cancel_request_survives_a_lost_lease(backend: RedisBackend) -> None:
    r = rec()
    await backend.enqueue([r])
    await backend.fetch("default", 1, 0.2, "dead", 0)
    await backend.cancel(r.uuid, "please")
    await asyncio.sleep(0.3)
    (again,) = await backend.fetch("default", 1, 30, "w", 0)
    assert again.record.extra["cancel_requested"] == "please"


@pytest.mark.anyio
async def test_purge_leaves_other_namespaces(backend: RedisBackend) -> None:
    other = make(backend.namespace + "*[x]")  # glob characters must not widen the purge
    try:
        kept = rec()
        await other.enqueue([kept])
        await backend.enqueue([rec()])
        await backend.purge()
        assert await other.get(kept.uuid) is not None
    finally:
        await other.purge()
        await other.close()


@pytest.mark.anyio
async def test_async_names_share_one_backend_and_global_config() -> None:
    broker = AsyncRedisBroker(name=f"names-{uuid.uuid4().hex[:6]}", url=URL)
    gc = broker.storage.global_config
    assert isinstance(gc, AsyncRedisGlobalConfig)
    assert broker.backend is broker.storage.backend is gc.backend
    assert broker.queue_name == f"{broker.name}:task_queue"
    try:
        await gc.set("limits", "rate", "10")
        await gc.set("limits", "burst", 3)
        assert await gc.get("limits", "rate") == "10"
        assert await gc.get_all("limits") == {"rate": "10", "burst": "3"}
        assert await gc.get_match("lim*") == {"limits": {"rate": "10", "burst": "3"}}
        await gc.start()
        assert await gc.get("main", "status") == "running"
    finally:
        await broker.backend.purge()
        await broker.stop()


def test_sync_names_share_a_given_storage() -> None:
    storage = SyncRedisStorage(name=f"names-{uuid.uuid4().hex[:6]}", url=URL)
    broker = SyncRedisBroker(name=storage.name, storage=storage)
    assert broker.backend is storage.backend
    try:
        storage.global_config.set("a", "k", "v")
        assert storage.global_config.get("a", "k") == "v"
    finally:
        broker.backend.purge_sync()
        broker.stop()


async def _keys(backend: RedisBackend, kind: str) -> list[bytes]:
    found: list[bytes] = []
    cursor: Any = 0
    while True:
        cursor, keys = await backend._drive(
            redis_backend._once(("SCAN", cursor, "MATCH", f"{backend.prefix}{kind}*"))
        )
        found += keys
        if int(cursor) == 0:
            return found


@pytest.mark.anyio
async def test_cancelled_blocked_fetch_is_unblocked_and_cleans_up(backend: RedisBackend) -> None:
    waiting = asyncio.create_task(backend.fetch("default", 10, 30, "w", 30.0))
    await asyncio.sleep(0.05)  # blocked in Redis now
    start = time.perf_counter()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert time.perf_counter() - start < 1.0
    assert await _keys(backend, "s:") == []  # the stop list is gone
    r = rec()
    await backend.enqueue([r])  # nobody took it on the way out
    assert (await backend.stats())["queued"] == 1
    (d,) = await backend.fetch("default", 10, 30, "w", 0)
    assert d.record.uuid == r.uuid and d.record.attempts == 1


@pytest.mark.anyio
async def test_cancel_racing_a_wake_up_leaves_nothing_leased(backend: RedisBackend) -> None:
    owned = 0
    for i in range(30):
        waiting = asyncio.create_task(backend.fetch("default", 10, 30, "w", 5.0))
        await asyncio.sleep(0.01)
        await backend.enqueue([rec(i)])
        for _ in range(i % 4):  # cancel at different points of the wake-up
            await asyncio.sleep(0)
        waiting.cancel()
        got = await asyncio.gather(waiting, return_exceptions=True)
        if isinstance(got[0], list):
            owned += len(got[0])
            await backend.complete([finish(d) for d in got[0]])
    stats = await backend.stats()
    assert stats["leased"] == 0
    assert stats["queued"] == 30 - owned
    assert await _keys(backend, "s:") == []


@pytest.mark.anyio
async def test_wait_final_of_unknown_or_finished_task_returns_at_once(
    backend: RedisBackend,
) -> None:
    start = time.perf_counter()
    assert await backend.wait_final(str(uuid.uuid4()), 5) is None
    r = rec(3)
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    await backend.complete([finish(d)])  # nobody waited: nothing pushed
    got = await backend.wait_final(r.uuid, 5)
    assert got is not None and got.returning == 3
    got = backend.wait_final_sync(r.uuid, 5)
    assert got is not None and got.returning == 3
    assert time.perf_counter() - start < 1.0


@pytest.mark.anyio
async def test_wait_before_the_task_exists_does_not_spin(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = rec(4)
    assert await backend.wait_final(r.uuid, 1) is None  # leaves an "unknown" push behind
    await backend.enqueue([r])
    sent: list[Any] = []
    wire = backend._wire
    monkeypatch.setattr(backend, "_wire", lambda cmd: sent.append(cmd) or wire(cmd))
    waiting = asyncio.create_task(backend.wait_final(r.uuid, 5))
    await asyncio.sleep(0.2)
    monkeypatch.undo()
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    await backend.complete([finish(d)])
    got = await asyncio.wait_for(waiting, 2)
    assert got is not None and got.returning == 4
    assert len(sent) == 2, sent  # one WATCH + BLMOVE pipeline, no retries


@pytest.mark.anyio
async def test_older_queue_members_are_still_fetched(backend: RedisBackend) -> None:
    """Members written before the clock sequence (12 hex digits of a counter)."""
    r = rec(6)
    value = lua.new_value(r, "")  # header member set below
    member = lua.priority_prefix(0) + format(7, "012x") + r.uuid
    value = value.replace(b',"",""', f',"{member}",""'.encode(), 1)
    await backend._drive(redis_backend._once(("SET", backend.prefix + "t:" + r.uuid, value)))
    await backend._drive(redis_backend._once(("ZADD", backend.prefix + "q:default", 0, member)))
    new = rec(7)
    await backend.enqueue([new])
    got = await backend.fetch("default", 10, 30, "w", 0)
    assert [d.record.uuid for d in got] == [r.uuid, new.uuid]  # older first


@pytest.mark.anyio
async def test_due_delayed_task_is_not_starved_by_a_backlog(backend: RedisBackend) -> None:
    await backend.enqueue([rec(i) for i in range(400)])
    urgent = rec(-1, priority=-1)
    urgent.eta = time.time() + 0.2
    await backend.enqueue([urgent])
    start = time.monotonic()
    while True:  # every fetch is full: the timers run only every _TIMERS_EVERY
        (d,) = await backend.fetch("default", 1, 30, "w", 0)
        await backend.complete([finish(d)])
        if d.record.uuid == urgent.uuid:
            break
        await asyncio.sleep(0.002)
    assert 0.15 < time.monotonic() - start < 0.2 + redis_backend._TIMERS_EVERY + 0.15


def test_fifo_across_calls_of_one_producer(sync_backend: RedisBackend) -> None:
    records = [rec(i) for i in range(50)]
    for r in records:
        sync_backend.enqueue_sync([r])

    async def take() -> list[str]:
        got = await sync_backend.fetch("default", 100, 30, "w", 0)
        return [d.record.uuid for d in got]

    assert asyncio.run(take()) == [r.uuid for r in records]


@pytest.mark.anyio
async def test_cancel_while_the_woken_fetch_reply_is_in_flight(backend: RedisBackend) -> None:
    """Redis already ran the fetch queued behind the block; its reply is unread."""
    other = make(backend.namespace)
    try:
        for i in range(5):
            waiting = asyncio.create_task(backend.fetch("default", 10, 30, "w", 5.0))
            await asyncio.sleep(0.02)
            r = rec(i)
            other.enqueue_sync([r])  # blocks the loop: the fetch cannot see the reply yet
            time.sleep(0.01)  # ... which reaches our socket meanwhile
            waiting.cancel()
            got = await asyncio.gather(waiting, return_exceptions=True)
            assert isinstance(got[0], asyncio.CancelledError)
            stats = await backend.stats()
            assert (stats["queued"], stats["leased"]) == (1, 0)  # released at once
            (d,) = await backend.fetch("default", 10, 30, "w", 0)
            # the cancelled fetch was given back with its delivery count
            assert (d.record.uuid, d.record.attempts) == (r.uuid, 1)
            await backend.complete([finish(d)])
    finally:
        other.close_sync()


@pytest.mark.anyio
async def test_woken_fetch_stamps_the_time_it_ran(backend: RedisBackend) -> None:
    waiting = asyncio.create_task(backend.fetch("default", 1, 30, "w", 5.0))
    await asyncio.sleep(1.0)
    await backend.enqueue([rec()])
    (d,) = await waiting
    assert abs(d.record.updated_at - time.time()) < 0.5  # not when the block began
    assert d.record.status == "process"
    stored = await backend.get(d.record.uuid)
    assert stored is not None and stored.updated_at == d.record.updated_at
