"""`qtasks.contrib.django.autodiscover_tasks` imports installed apps' task modules."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from .processes import wait_for_log


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


def test_worker_of_an_app_module_that_discovers_before_django_is_set_up(
    tmp_path: Path,
) -> None:
    """The usual layout: `mysite/qtasks_app.py` creates the app and calls
    `autodiscover_tasks(app)` at import, and the worker is started with `qtasks -A
    mysite.qtasks_app:app run` (Django not set up yet). The task modules import models,
    which raised AppRegistryNotReady (swallowed: the worker started with tasks=0)."""
    import os
    import subprocess

    from qtasks import QueueTasks

    url = f"sqlite:///{tmp_path / 'q.db'}"
    files = {
        "mysite/__init__.py": "",
        "mysite/settings.py": """
            SECRET_KEY = "test"
            INSTALLED_APPS = ["django.contrib.contenttypes", "newsletter"]
            DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
        """,
        "mysite/qtasks_app.py": f"""
            from qtasks import QueueTasks
            from qtasks.contrib.django import autodiscover_tasks

            app = QueueTasks(name="mysite", broker_url={url!r})
            autodiscover_tasks(app)
        """,
        "newsletter/__init__.py": "",
        "newsletter/tasks.py": """
            from django.contrib.contenttypes.models import ContentType  # needs the registry

            from qtasks import shared_task

            @shared_task(name="newsletter.model_of")
            def model_of(label: str) -> str:
                return ContentType._meta.label + ":" + label
        """,
    }
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env.update(PYTHONPATH=str(tmp_path), DJANGO_SETTINGS_MODULE="mysite.settings")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qtasks",
                "-A",
                "mysite.qtasks_app:app",
                "run",
                "--log-level=INFO",
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_log(log, "Starting app", worker)
        producer = QueueTasks(name="mysite", broker_url=url)
        done = producer.add_task("newsletter.model_of", "x", timeout=20)
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
    text = log.read_text()
    assert "tasks=1" in text and "Importing" not in text, text
    assert (done.status, done.returning) == ("success", "contenttypes.ContentType:x")
