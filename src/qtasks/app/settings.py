"""Settings every process of an app shares (QTasks 1.7's "global config"), over the
`SharedSettings` capability of whatever backend the app has (Redis today).

`app.global_config` is a `GlobalConfig` (sync app) or `AsyncGlobalConfig` (async app),
or None when the backend keeps no shared settings. The 1.7 names
`SyncRedisGlobalConfig`/`AsyncRedisGlobalConfig` are these classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtasks.app.driving import FlowDriver
from qtasks.core.config import QueueConfig
from qtasks.core.steps import Call, Flow
from qtasks.exc import CapabilityError
from qtasks.logs import Logger

if TYPE_CHECKING:
    from qtasks.core.hooks import HookRunner
    from qtasks.core.ports import Backend

#: Where QTasks 1.7's global config connected when given no URL.
DEFAULT_URL = "redis://localhost:6379/0"


class _BaseGlobalConfig(FlowDriver):
    def __init__(
        self,
        name: str = "QueueTasks",
        url: str | None = None,
        redis_connect: Any = None,
        config_name: str | None = None,
        log: Logger | None = None,
        config: QueueConfig | None = None,
        events: Any = None,
        *,
        backend: Backend | None = None,
        hooks: HookRunner | None = None,
    ) -> None:
        """Over `backend`, or a backend for `url` (default: QTasks 1.7's local Redis).
        `redis_connect` (a ready client) is accepted for 1.7 code and not used. Raises
        `CapabilityError` when the backend keeps no shared settings."""
        self.name = name
        self.config = config if config is not None else QueueConfig()
        self.log = log if log is not None else Logger(name, type(self).__name__)
        self.events = events
        self.config_name = f"{name}:{config_name or 'GlobalConfig'}"
        if backend is None:
            from qtasks.backends import create_backend

            backend = create_backend(
                url or DEFAULT_URL, namespace=name, config=self.config, log=self.log
            )
        if not backend.capabilities.shared_settings:
            raise CapabilityError(f"{backend!r} keeps no settings shared between processes")
        self.backend = backend
        self.url = backend.url
        self.hooks = hooks

    # --- each operation once, as a flow (see qtasks.app.driving) -------------------------
    def _set_flow(self, name: str, key: str, value: Any) -> Flow[None]:
        changes = yield from self._fire(
            "global_config_set", global_config=self, name_=name, key=key, value=value
        )
        name, key, value = (
            changes.get(k, v) for k, v in (("name", name), ("key", key), ("value", value))
        )
        yield Call("settings_set", (name, key, value))

    def _read_flow(self, method: str, args: tuple[Any, ...], hook: str) -> Flow[Any]:
        value = yield Call(method, args)
        changes = yield from self._fire(hook, global_config=self, get=value)
        return changes.get("get", value)

    def _status_flow(self) -> Flow[None]:
        ttl = self.config.global_config_status_ttl
        yield Call("settings_set", ("main", "name", self.name, ttl))
        yield Call("settings_set", ("main", "status", "running", ttl))


class AsyncGlobalConfig(_BaseGlobalConfig):
    """Hashes of string fields under a name, shared by every process of the app."""

    async def set(self, name: str, key: str, value: Any) -> None:
        await self._run_async(self._set_flow(name, key, value))

    async def get(self, key: str, name: str) -> str | None:
        flow = self._read_flow("settings_get", (key, name), "global_config_get")
        result: str | None = await self._run_async(flow)
        return result

    async def get_all(self, key: str) -> dict[str, str]:
        flow = self._read_flow("settings_get_all", (key,), "global_config_get_all")
        result: dict[str, str] = await self._run_async(flow)
        return result

    async def get_match(self, match: str) -> dict[str, dict[str, str]]:
        flow = self._read_flow("settings_get_match", (match,), "global_config_get_match")
        result: dict[str, dict[str, str]] = await self._run_async(flow)
        return result

    async def start(self) -> None:
        """Publish the app's `main` status, as a running app does."""
        await self._run_async(self._status_flow())

    async def stop(self) -> None:
        await self.backend.close()


class GlobalConfig(_BaseGlobalConfig):
    """Hashes of string fields under a name, shared by every process of the app."""

    def set(self, name: str, key: str, value: Any) -> None:
        self._run_sync(self._set_flow(name, key, value))

    def get(self, key: str, name: str) -> str | None:
        flow = self._read_flow("settings_get", (key, name), "global_config_get")
        result: str | None = self._run_sync(flow)
        return result

    def get_all(self, key: str) -> dict[str, str]:
        flow = self._read_flow("settings_get_all", (key,), "global_config_get_all")
        result: dict[str, str] = self._run_sync(flow)
        return result

    def get_match(self, match: str) -> dict[str, dict[str, str]]:
        flow = self._read_flow("settings_get_match", (match,), "global_config_get_match")
        result: dict[str, dict[str, str]] = self._run_sync(flow)
        return result

    def start(self) -> None:
        """Publish the app's `main` status, as a running app does."""
        self._run_sync(self._status_flow())

    def stop(self) -> None:
        self.backend.close_sync()


__all__ = ["DEFAULT_URL", "AsyncGlobalConfig", "GlobalConfig"]
