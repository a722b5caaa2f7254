"""The Redis backend seen from apps: the original's component names, the global config,
the app status key and ping()."""

from __future__ import annotations

import os
import uuid

import pytest

from qtasks import QueueTasks
from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.brokers import AsyncRedisBroker, SyncRedisBroker
from qtasks.configs import AsyncRedisGlobalConfig, QueueConfig, SyncRedisGlobalConfig
from qtasks.storages import AsyncRedisStorage, SyncRedisStorage
from qtasks.workers import AsyncWorker

URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.anyio


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_component_names_share_one_backend_and_the_app_config() -> None:
    name = unique("compat")
    broker = SyncRedisBroker(name=name, url=URL)
    assert isinstance(broker.storage, SyncRedisStorage)
    assert isinstance(broker.storage.global_config, SyncRedisGlobalConfig)
    assert broker.storage.backend is broker.backend is broker.storage.global_config.backend
    config = QueueConfig(max_tasks_process=3)
    app = QueueTasks(name, broker=broker, worker=AsyncWorker(config=config))
    assert app.config is config and app.backend is broker.backend
    assert app.backend.config is config

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    try:
        with app.serve():
            assert add.add_task(2, 3, timeout=10).returning == 5
    finally:
        app.flush_all()
    assert isinstance(AsyncRedisBroker(name=name, url=URL).storage, AsyncRedisStorage)


async def test_global_config_and_status_while_running() -> None:
    name = unique("gc")
    app = AsyncQueueTasks(name, broker_url=URL, config=QueueConfig(global_config_status_ttl=5))
    gc = app.global_config
    assert isinstance(gc, AsyncRedisGlobalConfig)
    await gc.set("settings", "colour", "blue")
    await gc.set("settings", "size", "xl")
    assert await gc.get("settings", "colour") == "blue"
    assert await gc.get_all("settings") == {"colour": "blue", "size": "xl"}
    assert "settings" in await gc.get_match("sett*")
    assert not await app.ping()
    try:
        async with app.serve():
            assert await app.ping()
            assert await gc.get("main", "status") == "running"
            assert await gc.get("main", "name") == name
        assert not await app.ping()
    finally:
        await app.flush_all()
    assert QueueTasks(unique("mem"), broker_url="memory://").global_config is None


def test_a_worker_runs_the_tasks_around_an_undecodable_one() -> None:
    import redis

    app = QueueTasks(unique("dl"), broker_url=URL)

    @app.task
    def double(x: int) -> int:
        return 2 * x

    tasks = [double.add_task(i) for i in range(4)]
    client = redis.Redis.from_url(URL)
    try:
        key = f"qtasks:{{{app.name}}}:t:{tasks[2].uuid}"
        assert client.set(key, b"damaged\nrecord", xx=True)
        with app.serve():
            done = [app.wait(t.uuid, timeout=20) for t in tasks]
        assert [d.returning if d else None for d in done] == [0, 2, None, 6]
        assert done[2] is not None and done[2].status == "error"
        (dead,) = app.backend.dead_letters_sync()  # type: ignore[attr-defined]
        assert (dead.uuid, dead.raw) == (str(tasks[2].uuid), "damaged\nrecord")
    finally:
        client.close()
        app.flush_all()
