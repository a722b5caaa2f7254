"""The Redis backend's listing index (`scripts/_ix.lua`): which writes keep it, and
how members of expired records leave it."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid

import pytest
import redis

from qtasks.backends import Completion, TaskRecord
from qtasks.backends.redis import RedisBackend
from qtasks.configs import QueueConfig
from qtasks.core.inspection import TaskQuery
from qtasks.logs import Logger

pytestmark = pytest.mark.anyio

URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def make(ttl: float = 3600.0) -> RedisBackend:
    config = QueueConfig(result_ttl=ttl)
    return RedisBackend(
        URL, namespace=f"ix-{uuid.uuid4().hex[:8]}", config=config, log=Logger("ix")
    )


def rec(name: str = "t") -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), name, 0, [], {}, "new", now, now)


def members(backend: RedisBackend, key: str) -> set[str]:
    client = redis.Redis.from_url(URL)
    try:
        return {m.decode() for m in client.zrange(backend.prefix + key, 0, -1)}
    finally:
        client.close()


async def test_only_enqueue_and_settling_write_the_index() -> None:
    backend = make()
    try:
        a, b = rec("a"), rec("b")
        await backend.enqueue([a, b])
        assert members(backend, "x:pending:default") == {a.uuid, b.uuid}
        assert members(backend, "xn:a") == {a.uuid}
        got = await backend.fetch("default", 2, 30, "w", 0)
        assert members(backend, "x:pending:default") == {a.uuid, b.uuid}  # untouched
        page = await backend.list_tasks(TaskQuery(status="process"))
        assert {r.uuid for r in page.records} == {a.uuid, b.uuid}  # from the leases
        assert (await backend.list_tasks(TaskQuery(status="new"))).records == []
        done = [dataclasses.replace(d.record, status="success") for d in got]
        await backend.complete([Completion(d, r) for d, r in zip(got, done, strict=True)])
        assert members(backend, "x:pending:default") == set()
        assert members(backend, "x:success:default") == {a.uuid, b.uuid}
        assert await backend.count_tasks() == {"default": {"success": 2}}
    finally:
        await backend.purge()
        await backend.close()


async def test_expired_records_leave_the_index() -> None:
    backend = make(ttl=0.3)
    try:
        records = [rec() for _ in range(5)]
        await backend.enqueue(records)
        got = await backend.fetch("default", 5, 30, "w", 0)
        await backend.complete(
            [Completion(d, dataclasses.replace(d.record, status="error")) for d in got]
        )
        assert await backend.count_tasks() == {"default": {"error": 5}}
        time.sleep(0.5)  # the records expire; their members stay until swept
        assert len(members(backend, "x:error:default")) == 5
        await backend.recover_expired("default")  # the workers' upkeep
        assert members(backend, "x:error:default") == set()
        assert members(backend, "xn:t") == set()
        assert await backend.count_tasks() == {}
        assert (await backend.list_tasks(TaskQuery())).records == []
    finally:
        await backend.purge()
        await backend.close()


async def test_a_listing_drops_the_expired_members_it_meets() -> None:
    backend = make(ttl=0.3)
    try:
        old, young = rec(), rec()
        await backend.enqueue([old])
        [d] = await backend.fetch("default", 1, 30, "w", 0)
        await backend.complete([Completion(d, dataclasses.replace(d.record, status="success"))])
        time.sleep(0.5)
        await backend.enqueue([young])
        page = await backend.list_tasks(TaskQuery(task_name="t"))
        assert [r.uuid for r in page.records] == [young.uuid]
        assert members(backend, "xn:t") == {young.uuid}
    finally:
        await backend.purge()
        await backend.close()
