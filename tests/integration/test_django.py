"""`qtasks.contrib.django.autodiscover_tasks` imports installed apps' task modules."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest


def test_autodiscover_registers_tasks_of_installed_apps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import django
    from django.conf import settings

    for name, body in {
        "shop/__init__.py": "",
        "shop/tasks.py": """
            from qtasks import shared_task

            @shared_task(name="shop.checkout")
            def checkout(order):
                return order
        """,
        "blog/__init__.py": "",  # an installed app without tasks
        "broken/__init__.py": "",
        "broken/tasks.py": "raise RuntimeError('bad module')",
    }.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    from qtasks.registries.registry import TaskRegistry

    monkeypatch.setattr(TaskRegistry, "_tasks", dict(TaskRegistry._tasks))
    monkeypatch.setattr(TaskRegistry, "_handles", dict(TaskRegistry._handles))
    if not settings.configured:
        settings.configure(INSTALLED_APPS=["shop", "blog", "broken"])
        django.setup()

    from qtasks import QueueTasks
    from qtasks.contrib.django import autodiscover_tasks

    app = QueueTasks("django-app", broker_url="memory://django")
    imported = autodiscover_tasks(app, ["tasks"])
    assert imported == ["shop.tasks"]
    assert app._find_task("shop.checkout") is not None
    for module in ("shop", "shop.tasks", "blog", "broken", "broken.tasks"):
        sys.modules.pop(module, None)
