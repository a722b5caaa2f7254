"""The app config of `"qtasks.contrib.django"` in `INSTALLED_APPS`."""

from __future__ import annotations

from django.apps import AppConfig


class QTasksConfig(AppConfig):  # type: ignore[misc]
    """Once the app registry is ready: run deferred discoveries and import every
    installed app's `tasks` module (so a worker started by `manage.py qtasks worker`,
    or in-process, knows every task)."""

    name = "qtasks.contrib.django"
    label = "qtasks"
    verbose_name = "qtasks"
    default = True

    def ready(self) -> None:
        from qtasks.contrib.django.discovery import autodiscover_tasks, run_pending

        run_pending()
        autodiscover_tasks()


__all__ = ["QTasksConfig"]
