"""QTasks 1.7's Redis component names, as thin holders of one `RedisBackend`.

`AsyncRedisBroker(url=...)` builds a storage, which builds a global config, and all
three share one backend (one set of connections), as the original shared one client:
`QueueTasks(broker=AsyncRedisBroker(url=...))` then uses `broker.backend`. The Sync and
Async classes differ only in whether the global-config methods are awaited.
`redis_connect` (a ready client) is accepted for compatibility and not used: the
backend opens its own connections to `url`.
"""

from __future__ import annotations

from typing import Any, cast

from qtasks.app.settings import AsyncGlobalConfig, GlobalConfig
from qtasks.backends.redis import RedisBackend
from qtasks.compat.components import BaseBroker, BaseStorage
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


class _RedisComponent:
    def __init__(
        self,
        name: str,
        url: str | None,
        log: Logger | None,
        config: QueueConfig | None,
        events: Any,
        backend: RedisBackend | None,
    ) -> None:
        self.name = name
        self.config = config if config is not None else QueueConfig()
        self.log = log if log is not None else Logger(name, type(self).__name__)
        self.events = events
        if backend is None:
            backend = RedisBackend(
                url or DEFAULT_REDIS_URL, namespace=name, config=self.config, log=self.log
            )
        self.backend = backend
        self.url = backend.url
        self.plugins: dict[str, list[Any]] = {}


#: QTasks 1.7's names of the app's shared settings: the same classes as
#: `qtasks.app.settings` (`app.global_config` is one of them).
AsyncRedisGlobalConfig = AsyncGlobalConfig
SyncRedisGlobalConfig = GlobalConfig


class _Storage(_RedisComponent, BaseStorage):
    _global_config_class: type[GlobalConfig] | type[AsyncGlobalConfig]

    def __init__(
        self,
        name: str = "QueueTasks",
        url: str | None = None,
        queue_process: str = "task_process",
        redis_connect: Any = None,
        global_config: GlobalConfig | AsyncGlobalConfig | None = None,
        log: Logger | None = None,
        config: QueueConfig | None = None,
        events: Any = None,
        *,
        backend: RedisBackend | None = None,
    ) -> None:
        if backend is None and global_config is not None:
            backend = cast(RedisBackend, global_config.backend)
        super().__init__(name, url, log, config, events, backend)
        self.queue_process = f"{name}:{queue_process}"
        self.global_config = global_config or self._global_config_class(
            name, config=self.config, log=self.log, events=events, backend=self.backend
        )


class AsyncRedisStorage(_Storage):
    _global_config_class = AsyncRedisGlobalConfig

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await self.backend.close()


class SyncRedisStorage(_Storage):
    _global_config_class = SyncRedisGlobalConfig

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.backend.close_sync()


class _Broker(_RedisComponent, BaseBroker):
    _storage_class: type[_Storage]

    def __init__(
        self,
        name: str = "QueueTasks",
        url: str | None = None,
        storage: _Storage | None = None,
        queue_name: str = "task_queue",
        log: Logger | None = None,
        config: QueueConfig | None = None,
        events: Any = None,
    ) -> None:
        backend = storage.backend if storage is not None else None
        super().__init__(name, url, log, config, events, backend)
        self.queue_name = f"{name}:{queue_name}"
        self.storage = storage or self._storage_class(
            name, config=self.config, log=self.log, events=events, backend=self.backend
        )


class AsyncRedisBroker(_Broker):
    _storage_class = AsyncRedisStorage

    async def stop(self) -> None:
        await self.backend.close()


class SyncRedisBroker(_Broker):
    _storage_class = SyncRedisStorage

    def stop(self) -> None:
        self.backend.close_sync()


__all__ = [
    "AsyncRedisBroker",
    "AsyncRedisGlobalConfig",
    "AsyncRedisStorage",
    "SyncRedisBroker",
    "SyncRedisGlobalConfig",
    "SyncRedisStorage",
]
