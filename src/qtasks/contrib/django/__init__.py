"""Django integration: `autodiscover_tasks(app, ["tasks"])` imports each installed app's
`tasks` module so that its `@app.task` / `@shared_task` functions are registered."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterable
from typing import Any

try:
    from django.conf import settings
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("qtasks.contrib.django needs Django: pip install django") from exc

log = logging.getLogger("qtasks.contrib.django.autodiscover")


def autodiscover_tasks(app: Any = None, modules: Iterable[str] | None = None) -> list[str]:
    """Import `<installed app>.<module>` for every installed app that has one.

    `app` is accepted for symmetry with the call site; tasks register through whatever
    decorator their module uses (`@app.task` on a shared app object or `@shared_task`).
    Returns the modules imported.
    """
    imported = []
    for app_name in settings.INSTALLED_APPS:
        for module in modules or ["tasks"]:
            name = f"{app_name}.{module}"
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


__all__ = ["autodiscover_tasks"]
