"""Apps on the RabbitMQ broker: URLs, the result store it needs, QTasks 1.7's names, and
errors that name the broker without its password. Runs on a vhost of this test run."""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid

import pytest

import qtasks
import qtasks.asyncio
from qtasks.backends.amqp import AmqpBroker, driver
from qtasks.backends.paired import PairedBackend
from qtasks.exc import BackendUnavailableError, ConfigError

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.anyio


def _name() -> str:
    return f"amqp-app-{uuid.uuid4().hex[:8]}"


def test_a_sync_app_runs_tasks_with_results_in_the_store(amqp_url: str) -> None:
    app = qtasks.QueueTasks(_name(), broker_url=amqp_url, storage_url=REDIS_URL)
    assert isinstance(app.backend, PairedBackend)
    assert isinstance(app.backend.broker, AmqpBroker)

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    @app.task(priority=1)
    def boom() -> None:
        raise ValueError("no")

    try:
        with app.serve():
            assert add.add_task(2, 3, timeout=10).returning == 5
            failed = boom.add_task(timeout=10)
            assert failed is not None and failed.status == "error"
            assert "ValueError" in (failed.traceback or "")
            queued = [add.add_task(i, i) for i in range(20)]
            results = [t.wait_result(timeout=10) if t else None for t in queued]
            assert [r.returning for r in results if r] == [2 * i for i in range(20)]
    finally:
        app.flush_all()
        app.backend.close_sync()


async def test_an_async_app_runs_tasks_and_honours_an_eta(amqp_url: str) -> None:
    app = qtasks.asyncio.QueueTasks(_name(), broker_url=amqp_url, storage_url=REDIS_URL)

    @app.task
    async def echo(x: str) -> str:
        return x

    try:
        async with app.serve():
            assert (await echo.add_task("hi", timeout=10)).returning == "hi"
            loop = asyncio.get_running_loop()
            start = loop.time()
            later = await app.enqueue("echo", ["later"], delay=0.5, timeout=10)
            assert later is not None and later.returning == "later"
            assert loop.time() - start >= 0.45
    finally:
        await app.flush_all()
        await app.backend.close()


async def test_a_retry_waits_its_backoff_in_a_delay_queue(amqp_url: str) -> None:
    app = qtasks.asyncio.QueueTasks(_name(), broker_url=amqp_url, storage_url=REDIS_URL)
    calls: list[float] = []

    @app.task(retry=2, retry_on_exc=[ConnectionError], retry_backoff=0.2)
    async def flaky() -> str:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) < 3:
            raise ConnectionError("not yet")
        return "third time"

    try:
        async with app.serve():
            first = await flaky.add_task()
            assert first is not None
            deadline = asyncio.get_running_loop().time() + 10
            while len(calls) < 3:
                assert asyncio.get_running_loop().time() < deadline, calls
                await asyncio.sleep(0.05)
        # backoff 0.2 s, then 0.4 s, each with some jitter; without a delay, milliseconds
        assert all(b - a >= 0.15 for a, b in itertools.pairwise(calls)), calls
        done = await app.get(first.uuid)
        assert done is not None and done.status == "retry"
    finally:
        await app.flush_all()
        await app.backend.close()


def test_without_a_store_the_error_says_what_to_give(
    amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QTASKS_STORAGE_URL", raising=False)
    with pytest.raises(ConfigError) as error:
        qtasks.QueueTasks("no-store", broker_url=amqp_url)
    message = str(error.value)
    assert "broker only" in message and "storage_url=" in message
    assert "QTASKS_STORAGE_URL" in message


def test_the_storage_url_may_come_from_the_environment(
    amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QTASKS_STORAGE_URL", REDIS_URL)
    app = qtasks.QueueTasks(_name(), broker_url=amqp_url)
    assert isinstance(app.backend, PairedBackend)
    assert "results in redis://" in app.backend.describe()


def test_the_1_7_rabbitmq_names_pair_with_their_storage(amqp_url: str) -> None:
    from qtasks.brokers import SyncRabbitMQBroker
    from qtasks.storages import SyncRedisStorage

    name = _name()
    storage = SyncRedisStorage(name=name, url=REDIS_URL)
    broker = SyncRabbitMQBroker(name=name, url=amqp_url, storage=storage)
    assert broker.storage is storage
    app = qtasks.QueueTasks(name, broker=broker)

    @app.task
    def mul(a: int, b: int) -> int:
        return a * b

    try:
        with app.serve():
            done = mul.add_task(6, 7, timeout=10)
            assert done is not None and done.returning == 42
        reader = qtasks.QueueTasks(name, broker_url=REDIS_URL)  # the records are in Redis
        stored = reader.get(done.uuid)
        assert stored is not None and stored.returning == 42
    finally:
        app.flush_all()
        app.backend.close_sync()


async def test_the_async_1_7_name_takes_the_storage_url_of_its_config(amqp_url: str) -> None:
    from qtasks.brokers.async_rabbitmq import AsyncRabbitMQBroker
    from qtasks.configs import QueueConfig

    config = QueueConfig()
    config.storage_url = REDIS_URL
    broker = AsyncRabbitMQBroker(name=_name(), url=amqp_url, config=config)
    assert "results in redis://" in broker.backend.describe()
    await broker.stop()


def test_the_kafka_names_say_why_there_is_no_kafka_backend() -> None:
    from qtasks.brokers import AsyncKafkaBroker, SyncKafkaBroker

    for cls in (AsyncKafkaBroker, SyncKafkaBroker):
        with pytest.raises(ConfigError, match=r"docs/backends/kafka\.md") as error:
            cls(name="x")
        assert "broker_url='amqp://" in str(error.value)


async def test_an_unreachable_broker_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(driver, "_RETRIES", 1)
    app = qtasks.asyncio.QueueTasks(
        "down", broker_url="amqp://guest:secret@127.0.0.1:1/vh", storage_url=REDIS_URL
    )
    with pytest.raises(BackendUnavailableError) as error:
        await app.add_task("t")
    assert "amqp://guest:***@127.0.0.1:1/vh" in str(error.value)
    assert "secret" not in str(error.value)
    await app.backend.close()
