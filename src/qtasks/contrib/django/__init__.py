"""Django integration.

- Add `"qtasks.contrib.django"` to `INSTALLED_APPS`: once Django's app registry is ready,
  every installed app's `tasks` module is imported (`autodiscover_tasks`), so the worker
  knows their tasks, and database connections are closed around each task.
- `QTASKS = {"name": ..., "broker_url": ..., ...}` (or `QTASKS_BROKER_URL`) in settings
  describes the project's app; `get_app()` (also `from qtasks.contrib.django import app`)
  builds it once.
- `python manage.py qtasks worker [options]` runs a worker of that app (every other
  `qtasks` command works the same way).
- `add_task_on_commit(...)` / `enqueue_on_commit(...)` enqueue once the current database
  transaction commits; on PostgreSQL with a PostgreSQL backend, inside it.
- `path("ops/", include(qtasks.contrib.django.dashboard.dashboard_urls()))` serves the web
  dashboard to staff members (needs the web extra).
"""

from __future__ import annotations

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "qtasks.contrib.django needs Django: install qtasks with the django extra"
    ) from exc

from typing import Any

from qtasks.contrib.django.connections import guard_connections
from qtasks.contrib.django.discovery import autodiscover_tasks
from qtasks.contrib.django.project import app_from_settings, get_app, reset_app
from qtasks.contrib.django.transaction import add_task_on_commit, enqueue_on_commit

__all__ = [
    "add_task_on_commit",
    "app_from_settings",
    "autodiscover_tasks",
    "enqueue_on_commit",
    "get_app",
    "guard_connections",
    "reset_app",
]


def __getattr__(name: str) -> Any:
    """`app`: the project's app of the `QTASKS` setting, built on first use."""
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
