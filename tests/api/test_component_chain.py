"""QTasks 1.7's component chain: `app.broker`, `.storage`, `.storage.global_config`,
`app.worker`, `app.starter` exist from construction, read the app's one config and map
their methods onto the app; components given the original way are honoured or refused."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import qtasks
import qtasks.asyncio
from qtasks.configs import QueueConfig
from qtasks.exc import CapabilityError, ConfigError

from .conftest import REDIS_URL

pytestmark = pytest.mark.anyio

LIMIT = 10.0


@pytest.mark.parametrize("cls", [qtasks.QueueTasks, qtasks.asyncio.QueueTasks])
def test_the_chain_reads_the_config_from_the_environment(
    cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QTASKS_TASK_DEFAULT_PRIORITY", "21")
    app = cls(broker_url="memory://chain-env")
    assert app.worker.config.task_default_priority == 21
    assert app.broker.storage.config.task_default_priority == 21
    assert app.broker.storage.global_config.config.task_default_priority == 21
    assert app.broker.config is app.config is app.starter.config
    for part in (app.broker, app.broker.storage, app.worker, app.starter):
        assert part.name == app.name and part.events is app.events
    app.worker.update_config(QueueConfig(max_tasks_process=3))
    assert app.config.max_tasks_process == 3  # one config, pushed into the app's


def test_component_bases_hold() -> None:
    from qtasks.brokers.base import BaseBroker
    from qtasks.configs.base import BaseGlobalConfig
    from qtasks.starters.base import BaseStarter
    from qtasks.storages.base import BaseStorage
    from qtasks.workers.base import BaseWorker

    app = qtasks.QueueTasks(broker_url="memory://chain-bases")
    assert isinstance(app.broker, BaseBroker)
    assert isinstance(app.broker.storage, BaseStorage)
    assert isinstance(app.broker.storage.global_config, BaseGlobalConfig)
    assert isinstance(app.worker, BaseWorker) and isinstance(app.starter, BaseStarter)


@pytest.mark.parametrize("facade", ["sync", "async"])
async def test_broker_and_storage_methods_map_onto_the_app(facade: str) -> None:
    cls = qtasks.asyncio.QueueTasks if facade == "async" else qtasks.QueueTasks
    app = cls(f"chain-{facade}", broker_url=f"memory://chain-{facade}")

    @app.task
    def double(x: int) -> int:
        return 2 * x

    async def run(value: Any) -> Any:
        return await value if facade == "async" else value

    task = await run(app.broker.add("double", priority=3, extra={"origin": "1.7"}, args=[4]))
    assert task.status == "new" and task.priority == 3
    stored = await run(app.broker.get(task.uuid))
    assert stored.origin == "1.7" and stored.args == [4]
    await run(app.broker.storage.update(uuid=task.uuid, priority=9, note="hi"))
    updated = await run(app.broker.storage.get(task.uuid))
    assert updated.priority == 9 and updated.note == "hi"
    assert app.worker._tasks["double"].name == "double"
    if facade == "async":
        async with app.serve():
            done = await app.wait(task.uuid, LIMIT)
            assert app.worker.num_workers == 1 and app.worker.executed >= 1
            assert app.starter.workers  # the running server's, read through
    else:
        with app.serve():
            done = app.wait(task.uuid, LIMIT)
            assert app.worker.num_workers == 1 and app.worker.executed >= 1
    assert done.returning == 8
    await run(app.broker.flush_all())
    assert await run(app.get(task.uuid)) is None


def test_global_config_without_shared_settings_says_so(tmp_path: Any) -> None:
    app = qtasks.QueueTasks(broker_url=f"sqlite:///{tmp_path}/chain.db")
    with pytest.raises(CapabilityError, match="shared settings"):
        app.broker.storage.global_config.get("main", "status")


@pytest.mark.parametrize("cls", [qtasks.QueueTasks, qtasks.asyncio.QueueTasks])
def test_on_redis_the_components_are_the_1_7_redis_classes(cls: Any) -> None:
    from qtasks.brokers import AsyncRedisBroker, SyncRedisBroker
    from qtasks.storages import AsyncRedisStorage, SyncRedisStorage

    app = cls("chain-redis-classes", broker_url=REDIS_URL)
    broker, storage = (
        (AsyncRedisBroker, AsyncRedisStorage)
        if cls is qtasks.asyncio.QueueTasks
        else (SyncRedisBroker, SyncRedisStorage)
    )
    assert isinstance(app.broker, broker) and isinstance(app.broker.storage, storage)
    assert app.broker.queue_name == "chain-redis-classes:task_queue"
    assert app.broker.storage.queue_process == "chain-redis-classes:task_process"
    assert app.broker.config is app.config and app.broker.backend is app.backend
    memory = cls("chain-memory-classes", broker_url="memory://chain-memory-classes")
    assert not isinstance(memory.broker, (AsyncRedisBroker, SyncRedisBroker))


def test_global_config_on_redis() -> None:
    app = qtasks.QueueTasks("chain-redis-gc", broker_url=REDIS_URL)
    try:
        settings = app.broker.storage.global_config
        settings.set("main", "mode", "fast")
        assert settings.get("main", "mode") == "fast"
        assert settings.get_all("main")["mode"] == "fast"
    finally:
        app.flush_all()
        app.backend.close_sync()


def test_redis_components_given_the_original_way_are_honoured() -> None:
    from qtasks.brokers import SyncRedisBroker
    from qtasks.storages import SyncRedisStorage

    storage = SyncRedisStorage(name="chain-given", url=REDIS_URL)
    broker = SyncRedisBroker(name="chain-given", url=REDIS_URL, storage=storage)
    app = qtasks.QueueTasks("chain-given", broker=broker)
    try:
        assert app.backend is broker.backend
        assert app.broker.queue_name == "chain-given:task_queue"  # read through
        assert app.broker.storage.queue_process == "chain-given:task_process"
        assert app.broker.config is app.config

        @app.task
        def hello() -> str:
            return "hi"

        with app.serve():
            assert app.add_task("hello", timeout=LIMIT).returning == "hi"
    finally:
        app.flush_all()
        app.backend.close_sync()


def test_worker_settings_are_honoured_and_a_worker_of_ones_own_is_refused() -> None:
    from qtasks.workers import AsyncWorker, SyncThreadWorker
    from qtasks.workers.base import BaseWorker

    app = qtasks.asyncio.QueueTasks(
        broker_url="memory://chain-w", worker=AsyncWorker(config=QueueConfig(max_tasks_process=7))
    )
    assert app.config.max_tasks_process == 7 and app.worker.config is app.config

    class MyWorker(SyncThreadWorker):
        def start(self, num_workers: int | None = None) -> None:  # type: ignore[override]
            pass

    with pytest.raises(ConfigError, match="AsyncWorker/SyncThreadWorker settings"):
        qtasks.QueueTasks(broker_url="memory://chain-w2", worker=MyWorker())
    with pytest.raises(ConfigError, match="own engine"):
        qtasks.QueueTasks(broker_url="memory://chain-w3", worker=BaseWorker())


def test_run_forever_takes_1_7_starters_and_refuses_others() -> None:
    from qtasks.starters import SyncStarter

    app = qtasks.QueueTasks("chain-starter", broker_url="memory://chain-starter")

    @app.task
    def ping() -> str:
        return "pong"

    with pytest.raises(ConfigError, match="AsyncStarter/SyncStarter"):
        app.run_forever(starter=object())

    thread = threading.Thread(
        target=lambda: app.run_forever(starter=SyncStarter(), reset_config=True), daemon=True
    )
    thread.start()
    try:
        assert app.add_task("ping", timeout=LIMIT).returning == "pong"
    finally:
        app.starter.stop()
        thread.join(LIMIT)
    assert not thread.is_alive()


def test_async_run_forever_runs_on_a_given_loop() -> None:
    import asyncio

    app = qtasks.asyncio.QueueTasks("chain-loop", broker_url="memory://chain-loop")
    seen: list[str] = []

    @app.task
    async def note() -> None:
        seen.append("ran")

    loop = asyncio.new_event_loop()
    try:

        async def enqueue_then_stop() -> None:
            await app.add_task("note", timeout=LIMIT)
            app._server.stop()

        loop.call_later(0.2, lambda: loop.create_task(enqueue_then_stop()))
        app.run_forever(loop=loop)
        assert seen == ["ran"] and not loop.is_closed()
    finally:
        loop.close()


def test_components_of_ones_own_are_refused_saying_what_to_do_instead() -> None:
    from qtasks.brokers import SyncRedisBroker
    from qtasks.brokers.base import BaseBroker
    from qtasks.storages import SyncRedisStorage
    from qtasks.storages.base import BaseStorage

    class MyBroker(BaseBroker):  # written the 1.7 way
        def __init__(self, name: str = "mine", storage: Any = None) -> None:
            super().__init__(storage, name=name)

    class MyStorage(BaseStorage):
        def __init__(self) -> None:
            super().__init__(name="mine", global_config=None)

    broker = MyBroker(storage=MyStorage())
    assert broker.name == "mine" and isinstance(broker.storage, MyStorage)
    with pytest.raises(ConfigError, match=r"implement qtasks\.core\.ports\.Backend"):
        qtasks.QueueTasks("mine", broker=broker)

    class CountingBroker(SyncRedisBroker):
        def add(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("never called")

    class CountingStorage(SyncRedisStorage):
        def get(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("never called")

    with pytest.raises(ConfigError, match="overrides add of SyncRedisBroker"):
        qtasks.QueueTasks("mine", broker=CountingBroker(name="mine", url=REDIS_URL))
    storage = CountingStorage(name="mine", url=REDIS_URL)
    with pytest.raises(ConfigError, match="overrides get of SyncRedisStorage"):
        qtasks.QueueTasks("mine", broker=SyncRedisBroker(name="mine", storage=storage))


def test_the_1_7_broker_names_import_from_the_package() -> None:
    from qtasks.brokers import AsyncKafkaBroker, SyncKafkaBroker, SyncSocketBroker

    for cls in (AsyncKafkaBroker, SyncKafkaBroker, SyncSocketBroker):
        with pytest.raises(ConfigError, match="broker_url="):
            cls()


def test_more_1_7_component_forms() -> None:
    app = qtasks.QueueTasks("chain-forms", broker_url="memory://chain-forms")

    @app.task
    def noop() -> None:
        pass

    task = app.broker.add("noop")
    app.broker.update(name=f"{app.name}:{task.uuid}", mapping={"status": "cancel", "why": "x"})
    stored = app.get(task.uuid)
    assert stored.status == "cancel" and stored.why == "x"
    with pytest.raises(ConfigError, match="uuid="):
        app.broker.storage.update(status="new")
    assert app.worker.broker is app.broker and app.worker.num_workers == 1
    assert app.broker.storage.global_config.config_name == "chain-forms:GlobalConfig"
    assert app.broker.default_sleep == 0.01
