"""Importing installed apps' task modules, once Django's app registry can take it."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("qtasks.contrib.django.autodiscover")

#: Calls made while Django was still loading its apps, run by the app config's `ready()`.
_pending: list[tuple[Any, list[str]]] = []


def autodiscover_tasks(app: Any = None, modules: Iterable[str] | None = None) -> list[str]:
    """Import `<installed app>.<module>` for every installed app that has one
    (`modules` defaults to `["tasks"]`); returns the names of the modules imported.

    Task modules may import models, so they are imported only once Django's models are
    loaded: called before `django.setup()` (a worker started with `qtasks -A
    myproject.tasks:app run`), this sets Django up first (`DJANGO_SETTINGS_MODULE`
    must name the settings); called while Django is loading its apps (from a
    `models.py` or an app's module), it is deferred until `"qtasks.contrib.django"`'s
    app config is ready, and returns []. A module that fails to import is logged on
    the `qtasks.contrib.django.autodiscover` logger and skipped.

    `app` is accepted as in QTasks 1.7: tasks register through whatever decorator
    their module uses (`@app.task` on a shared app object, `@shared_task`).
    """
    from django.apps import apps

    wanted = list(modules or ["tasks"])
    if not apps.models_ready:
        if apps.loading:
            _pending.append((app, wanted))
            return []
        import django

        django.setup()  # runs our app config's ready() (and its discovery) if installed
    imported = []
    for config in apps.get_app_configs():
        for module in wanted:
            name = f"{config.name}.{module}"
            try:
                if importlib.util.find_spec(name) is None:
                    continue
            except (ImportError, ValueError):
                continue
            try:
                importlib.import_module(name)
                imported.append(name)
            except Exception:
                log.exception("Importing %s failed", name)
    return imported


def run_pending() -> None:
    """Run the discoveries deferred while Django was loading its apps."""
    while _pending:
        app, modules = _pending.pop(0)
        autodiscover_tasks(app, modules)


__all__ = ["autodiscover_tasks", "run_pending"]
