"""The project's app, described by Django settings."""

from __future__ import annotations

import threading
from typing import Any

from qtasks.configs import QueueConfig
from qtasks.exc import ConfigError

_lock = threading.Lock()
_app: Any = None

#: Keys of the `QTASKS` setting and what they mean.
_KEYS = {"name", "broker_url", "storage_url", "async", "config"}


def app_from_settings(settings: Any = None) -> Any:
    """A new app built from `settings.QTASKS`, a dict with the keys `name` (default:
    "django"), `broker_url`, `storage_url`, `async` (False: the sync `QueueTasks`; True:
    `qtasks.asyncio.QueueTasks`) and `config` (a dict of `QueueConfig` fields). Without
    `QTASKS`, `settings.QTASKS_BROKER_URL` (or, unset, `QTASKS_BROKER_URL` in the
    environment, else the SQLite default) is the broker URL. Raises `ConfigError` on an
    unknown key or config field."""
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    spec = dict(getattr(settings, "QTASKS", None) or {})
    unknown = set(spec) - _KEYS
    if unknown:
        raise ConfigError(f"unknown keys in settings.QTASKS: {sorted(unknown)}")
    if "broker_url" not in spec and getattr(settings, "QTASKS_BROKER_URL", None):
        spec["broker_url"] = settings.QTASKS_BROKER_URL
    fields = spec.get("config") or {}
    known = set(QueueConfig.__dataclass_fields__)
    if set(fields) - known:
        raise ConfigError(f"unknown QueueConfig fields in QTASKS: {sorted(set(fields) - known)}")
    if spec.get("async"):
        from qtasks.asyncio import QueueTasks as AppClass
    else:
        from qtasks import QueueTasks as AppClass  # type: ignore[assignment]
    return AppClass(
        name=spec.get("name") or "django",
        broker_url=spec.get("broker_url"),
        storage_url=spec.get("storage_url"),
        config=QueueConfig(**fields),
    )


def get_app() -> Any:
    """The project's app (`app_from_settings()`), built on first call and kept.

    Sets Django up first when it is not (a worker started with
    `qtasks -A qtasks.contrib.django:get_app run` and `DJANGO_SETTINGS_MODULE` set),
    and imports the installed apps' `tasks` modules."""
    global _app
    from django.apps import apps

    if _app is None and not apps.ready and not apps.loading:
        import django

        django.setup()  # imports the task modules, which may call get_app() themselves
    with _lock:
        if _app is not None:
            return _app
        _app = app_from_settings()
    from qtasks.contrib.django.connections import guard_connections
    from qtasks.contrib.django.discovery import autodiscover_tasks

    guard_connections(_app)
    if apps.models_ready:
        autodiscover_tasks(_app)
    return _app


def reset_app() -> None:
    """Forget the app `get_app()` built (tests that change settings)."""
    global _app
    with _lock:
        _app = None


__all__ = ["app_from_settings", "get_app", "reset_app"]
