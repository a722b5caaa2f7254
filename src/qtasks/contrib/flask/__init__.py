"""Flask integration: the `init_app` extension pattern.

    from flask import Flask
    from qtasks.contrib.flask import QTasks

    qtasks = QTasks()              # in extensions.py; tasks: @qtasks.app.task

    def create_app():
        web = Flask(__name__)
        web.config["QTASKS_BROKER_URL"] = "redis://..."
        qtasks.init_app(web)
        return web

Each task runs inside the Flask app's application context (`current_app`, `g`, the
extensions bound to it), and `flask qtasks worker` (with every other `qtasks`
command) runs a worker of the app. Config keys: `QTASKS_NAME` (default:
"flask"), `QTASKS_BROKER_URL`, `QTASKS_STORAGE_URL`, `QTASKS_CONFIG` (a dict
of `QueueConfig` fields).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

try:
    import click
    from flask import Flask
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "qtasks.contrib.flask needs Flask: install qtasks with the flask extra"
    ) from exc

from qtasks import QueueTasks
from qtasks.configs import QueueConfig
from qtasks.core.hooks import Hooks
from qtasks.exc import ConfigError

_IN_CONTEXT = "__qtasks_flask_context__"


class QTasks:
    """The qtasks extension. `app` is the sync `QueueTasks` (given, or built by
    `init_app` from the Flask config); one extension serves one Flask app."""

    def __init__(self, web: Flask | None = None, *, app: Any = None) -> None:
        self._app = app
        self._defaults = False  # built before init_app, from the defaults
        self.web: Flask | None = None
        if web is not None:
            self.init_app(web)

    @property
    def app(self) -> Any:
        """The qtasks app; built on first use from the Flask config of `init_app` (or
        the defaults, when tasks are declared before `init_app`)."""
        if self._app is None:
            self._defaults = self.web is None
            self._app = _app_from_config(self.web.config if self.web is not None else {})
        return self._app

    def init_app(self, web: Flask) -> None:
        """Bind to `web`: tasks then run in its application context; adds the
        `flask qtasks` command group and `web.extensions["qtasks"]`.

        Raises `ConfigError` when the app was already built from the defaults (a task
        declared with `@qtasks.task` before `init_app`) and `web`'s config names
        another: pass `QTasks(app=QueueTasks(...))` to declare tasks first."""
        if self._defaults and any(k.startswith("QTASKS_") for k in web.config):
            raise ConfigError(
                "the qtasks app was built before init_app (a task was declared first): "
                "its QTASKS_* settings would be ignored; give the app: QTasks(app=...)"
            )
        self.web = web
        web.extensions["qtasks"] = self
        self.app.add_plugin(_FlaskContextPlugin(web), trigger_names=["-"])
        web.cli.add_command(_command_group(self))

    def task(self, *args: Any, **kwargs: Any) -> Any:
        """`@qtasks.task(...)`: the app's `task` decorator."""
        return self.app.task(*args, **kwargs)


def _app_from_config(config: Any) -> Any:
    fields = dict(config.get("QTASKS_CONFIG") or {})
    return QueueTasks(
        name=config.get("QTASKS_NAME") or "flask",
        broker_url=config.get("QTASKS_BROKER_URL"),
        storage_url=config.get("QTASKS_STORAGE_URL"),
        config=QueueConfig(**fields),
    )


def _in_context(web: Flask, func: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with web.app_context():
                return await func(*args, **kwargs)

        wrapper: Callable[..., Any] = run_async
    else:

        @functools.wraps(func)
        def run_sync(*args: Any, **kwargs: Any) -> Any:
            with web.app_context():  # pushed in the thread that runs the task
                return func(*args, **kwargs)

        wrapper = run_sync
    setattr(wrapper, _IN_CONTEXT, True)
    return wrapper


class _FlaskContextPlugin(Hooks):
    """When the worker starts, wraps each task function (generators left alone) so that
    it runs inside the Flask app's application context."""

    name = "FlaskContextPlugin"

    def __init__(self, web: Flask) -> None:
        self.web = web

    def start(self, *args: Any, **kwargs: Any) -> None:
        app = kwargs.get("app")
        for spec in list(app.tasks.values()) if app is not None else []:
            if not getattr(spec.func, _IN_CONTEXT, False) and not spec.generating:
                spec.func = _in_context(self.web, spec.func)


def _command_group(extension: QTasks) -> click.Command:
    @click.command(
        "qtasks",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    @click.argument("words", nargs=-1, type=click.UNPROCESSED)
    def qtasks_command(words: tuple[str, ...]) -> None:
        """Run a qtasks command for this app: `flask qtasks worker [options]`."""
        from qtasks.cli import main

        raise SystemExit(_run(extension, list(words), main))

    return qtasks_command


def _run(extension: QTasks, words: list[str], main: Callable[[list[str]], int]) -> int:
    """Run `qtasks` with `words` (`worker` read as `run`) on the extension's app."""
    for i, word in enumerate(words):
        if word == "worker" and (i == 0 or words[i - 1] not in ("-A", "--app", "--log-level")):
            words[i] = "run"
            break
    _current[0] = extension.app
    return main(["-A", "qtasks.contrib.flask:current_app", *words])


_current: list[Any] = [None]


def current_app() -> Any:
    """The app of the running `flask qtasks` command (what its `-A` names)."""
    return _current[0]


__all__ = ["QTasks", "current_app"]
