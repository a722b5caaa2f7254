"""Testing helpers for users' own test suites: `SyncTestCase`, `AsyncTestCase`,
`TestConfig` (QTasks 1.7: `qtasks.schemas.test.TestConfig`), and `in_memory(app)` /
`eager(app)` (an app on a fresh in-memory backend for one test, without or with its
worker; as pytest fixtures in `qtasks.tests.pytest_plugin`).

`settings(TestConfig(...))` keeps the components a test wants real; a disabled
broker/storage becomes an in-memory backend (so tasks still run, no server), a
disabled worker means `start()` runs nothing, disabled plugins are removed.
"""

from __future__ import annotations

import dataclasses
import uuid as uuid_mod
from typing import Any
from uuid import UUID

from qtasks.app.task import Task
from qtasks.backends.memory import MemoryBackend
from qtasks.tests.isolation import eager, in_memory


@dataclasses.dataclass
class TestConfig:
    """Which components of an app a test keeps real: True keeps the app's real
    component; False swaps in an in-memory one.

    A disabled broker/storage/global config means the app runs on `memory://`, so
    tasks still run without any server; a disabled worker means nothing executes.
    """

    __test__ = False  # not a pytest test class

    worker: bool = False
    broker: bool = False
    storage: bool = False
    global_config: bool = False
    plugins: bool = False

    @classmethod
    def full(cls) -> TestConfig:
        return cls(worker=True, broker=True, storage=True, global_config=True, plugins=True)

    @classmethod
    def only_worker(cls, plugins: bool = False) -> TestConfig:
        return cls(worker=True, plugins=plugins)

    @classmethod
    def only_broker(cls, plugins: bool = False) -> TestConfig:
        return cls(broker=True, plugins=plugins)

    @classmethod
    def full_broker(cls) -> TestConfig:
        return cls(broker=True, storage=True, global_config=True, plugins=True)


class BaseTestCase:
    __test__ = False  # not collected by pytest itself

    def __init__(self, app: Any, name: str | None = None) -> None:
        self.app = app
        self.name = name or type(self).__name__
        self.config = app.config
        self.test_config = TestConfig()
        self._original_backend = app.backend

    def settings(self, test_config: TestConfig | None = None, awaiting: bool = False) -> None:
        """Apply `test_config` to the app (in place). `awaiting` is accepted for
        compatibility: the in-memory backend serves sync and async apps alike."""
        self.test_config = test_config or TestConfig()
        tc, app = self.test_config, self.app
        if tc.broker or tc.storage or tc.global_config:
            app.backend = self._original_backend
        else:
            app.backend = MemoryBackend(
                f"memory://test-{uuid_mod.uuid4().hex}",
                namespace=app.name,
                config=app.config,
                log=app.log,
            )
        if not tc.plugins:
            app.plugins.clear()
            for table in app._component_plugins.values():
                table.clear()

    def restore(self) -> None:
        """Put the app's original backend back."""
        self.app.backend = self._original_backend

    def _server_options(
        self, num_workers: Any, options: dict[str, Any]
    ) -> tuple[int | None, dict[str, Any]]:
        """QTasks 1.7's `start(loop=None, starter=None, num_workers=4, reset_config=True)`
        keywords are accepted: a starter (given first or by name) must be one of 1.7's,
        `reset_config` and `loop` change nothing (one config; the running loop is used)."""
        options = dict(options)
        starter = options.pop("starter", None)
        options.pop("reset_config", None)
        options.pop("loop", None)
        return self.app._run_options(num_workers, starter), options

    def _worker_enabled(self) -> bool:
        if not self.test_config.worker:
            self.app.log.warning("[%s] the worker is disabled in TestConfig", self.name)
            return False
        return True


class SyncTestCase(BaseTestCase):
    """For sync apps (`qtasks.QueueTasks`)."""

    def add_task(
        self,
        task_name: str,
        *args: Any,
        priority: int | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Task | None:
        result: Task | None = self.app.add_task(
            task_name, *args, priority=priority, timeout=timeout, **kwargs
        )
        return result

    def get(self, uuid: UUID | str) -> Task | None:
        result: Task | None = self.app.get(uuid)
        return result

    def start(self, num_workers: Any = None, **options: Any) -> None:
        """Run the worker in this thread until stopped (blocks)."""
        if self._worker_enabled():
            self.app.run_forever(num_workers, **options)

    def start_in_background(self, num_workers: Any = None, **options: Any) -> None:
        """Start the worker on a background thread (returns once it is fetching)."""
        if self._worker_enabled():
            workers, rest = self._server_options(num_workers, options)
            self.app.start(workers, **rest)

    def stop(self) -> None:
        self.app.stop()


class AsyncTestCase(BaseTestCase):
    """For async apps (`qtasks.asyncio.QueueTasks`)."""

    async def add_task(
        self,
        task_name: str,
        *args: Any,
        priority: int | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Task | None:
        result: Task | None = await self.app.add_task(
            task_name, *args, priority=priority, timeout=timeout, **kwargs
        )
        return result

    async def get(self, uuid: UUID | str) -> Task | None:
        result: Task | None = await self.app.get(uuid)
        return result

    async def start(self, num_workers: Any = None, **options: Any) -> None:
        """Start the worker in the running event loop."""
        if self._worker_enabled():
            workers, rest = self._server_options(num_workers, options)
            await self.app.start(workers, **rest)

    def start_in_background(self, num_workers: Any = None, **options: Any) -> None:
        """Start the worker on its own thread and loop."""
        if self._worker_enabled():
            workers, rest = self._server_options(num_workers, options)
            self.app.start_in_background(workers, **rest)

    async def stop(self) -> None:
        await self.app.stop()


__all__ = [
    "AsyncTestCase",
    "BaseTestCase",
    "SyncTestCase",
    "TestConfig",
    "eager",
    "in_memory",
]
