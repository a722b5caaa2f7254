"""`qtasks.workers` (QTasks 1.7): `AsyncWorker`, `SyncThreadWorker`.

The engine has one worker (`qtasks.engine.worker`); these two exist only for code written
for QTasks 1.7 and hold worker settings: `QueueTasks(worker=AsyncWorker(
config=QueueConfig(max_tasks_process=50)))` makes that config the app's (the app reads
any component's `.config`).
"""

from __future__ import annotations

from typing import Any

from qtasks.compat.components import BaseWorker
from qtasks.core.config import QueueConfig


class _WorkerSettings(BaseWorker):
    def __init__(
        self,
        name: str = "QueueTasks",
        broker: Any = None,
        log: Any = None,
        config: QueueConfig | None = None,
        events: Any = None,
    ) -> None:
        self.name = name
        self.broker = broker
        self.log = log
        self.config = config
        self.events = events
        self.plugins: dict[str, list[Any]] = {}


class AsyncWorker(_WorkerSettings):
    """Settings of an async app's worker."""


class SyncThreadWorker(_WorkerSettings):
    """Settings of a sync app's worker (sync tasks run in a bounded thread pool)."""


#: QTasks 1.7's submodule paths (`qtasks.workers.async_worker`, ...) import beneath this
#: module: the compat finder serves them.
__path__: list[str] = []

__all__ = ["AsyncWorker", "SyncThreadWorker"]
