"""Settings every process of an app shares (QTasks 1.7's "global config"), over the
`SharedSettings` capability of whatever backend the app has (Redis today).

`app.global_config` is a `GlobalConfig` (sync app) or `AsyncGlobalConfig` (async app),
or None when the backend keeps no shared settings. The 1.7 names
`SyncRedisGlobalConfig`/`AsyncRedisGlobalConfig` are these classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from qtasks.core.config import QueueConfig
from qtasks.core.ports import SharedSettings
from qtasks.exc import CapabilityError
from qtasks.logs import Logger

if TYPE_CHECKING:
    from qtasks.core.hooks import HookRunner
    from qtasks.core.ports import Backend

#: Where QTasks 1.7's global config connected when given no URL.
DEFAULT_URL = "redis://localhost:6379/0"


class _BaseGlobalConfig:
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

    @property
    def _settings(self) -> SharedSettings:
        return cast(SharedSettings, self.backend)


class AsyncGlobalConfig(_BaseGlobalConfig):
    """Hashes of string fields under a name, shared by every process of the app."""

    async def set(self, name: str, key: str, value: Any) -> None:
        if self.hooks is not None and self.hooks.listens("global_config_set"):
            changes = await self.hooks.run(
                "global_config_set", global_config=self, name_=name, key=key, value=value
            )
            name, key, value = (
                changes.get(k, v) for k, v in (("name", name), ("key", key), ("value", value))
            )
        await self._settings.settings_set(name, key, value)

    async def get(self, key: str, name: str) -> str | None:
        value = await self._settings.settings_get(key, name)
        result: str | None = await self._after("global_config_get", value)
        return result

    async def get_all(self, key: str) -> dict[str, str]:
        values = await self._settings.settings_get_all(key)
        result: dict[str, str] = await self._after("global_config_get_all", values)
        return result

    async def get_match(self, match: str) -> dict[str, dict[str, str]]:
        values = await self._settings.settings_get_match(match)
        result: dict[str, dict[str, str]] = await self._after("global_config_get_match", values)
        return result

    async def start(self) -> None:
        """Publish the app's `main` status, as a running app does."""
        ttl = self.config.global_config_status_ttl
        await self._settings.settings_set("main", "name", self.name, ttl)
        await self._settings.settings_set("main", "status", "running", ttl)

    async def stop(self) -> None:
        await self.backend.close()

    async def _after(self, hook: str, value: Any) -> Any:
        if self.hooks is None or not self.hooks.listens(hook):
            return value
        return (await self.hooks.run(hook, global_config=self, get=value)).get("get", value)


class GlobalConfig(_BaseGlobalConfig):
    """Hashes of string fields under a name, shared by every process of the app."""

    def set(self, name: str, key: str, value: Any) -> None:
        if self.hooks is not None and self.hooks.listens("global_config_set"):
            changes = self.hooks.run_sync(
                "global_config_set", global_config=self, name_=name, key=key, value=value
            )
            name, key, value = (
                changes.get(k, v) for k, v in (("name", name), ("key", key), ("value", value))
            )
        self._settings.settings_set_sync(name, key, value)

    def get(self, key: str, name: str) -> str | None:
        result: str | None = self._after(
            "global_config_get", self._settings.settings_get_sync(key, name)
        )
        return result

    def get_all(self, key: str) -> dict[str, str]:
        result: dict[str, str] = self._after(
            "global_config_get_all", self._settings.settings_get_all_sync(key)
        )
        return result

    def get_match(self, match: str) -> dict[str, dict[str, str]]:
        values = self._settings.settings_get_match_sync(match)
        result: dict[str, dict[str, str]] = self._after("global_config_get_match", values)
        return result

    def start(self) -> None:
        """Publish the app's `main` status, as a running app does."""
        ttl = self.config.global_config_status_ttl
        self._settings.settings_set_sync("main", "name", self.name, ttl)
        self._settings.settings_set_sync("main", "status", "running", ttl)

    def stop(self) -> None:
        self.backend.close_sync()

    def _after(self, hook: str, value: Any) -> Any:
        if self.hooks is None or not self.hooks.listens(hook):
            return value
        return self.hooks.run_sync(hook, global_config=self, get=value).get("get", value)


__all__ = ["DEFAULT_URL", "AsyncGlobalConfig", "GlobalConfig"]
