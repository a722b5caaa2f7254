"""Database connections of a long-running worker, as Django expects them.

Django closes a request's connections when the request ends (if they failed, or are
older than `CONN_MAX_AGE`); a worker has no requests, so a task would otherwise run on
a connection the server closed hours ago. `guard_connections(app)` calls
`close_old_connections()` before and after each task, in the thread that runs it
(Django's connections belong to a thread).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from qtasks.core.hooks import Hooks

_GUARDED = "__qtasks_django_guarded__"


def _guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    from asgiref.sync import sync_to_async
    from django.db import close_old_connections

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            # The async ORM runs queries on asgiref's thread: close there.
            await sync_to_async(close_old_connections)()
            try:
                return await func(*args, **kwargs)
            finally:
                await sync_to_async(close_old_connections)()

        wrapper: Callable[..., Any] = run_async
    else:

        @functools.wraps(func)
        def run_sync(*args: Any, **kwargs: Any) -> Any:
            close_old_connections()
            try:
                return func(*args, **kwargs)
            finally:
                close_old_connections()

        wrapper = run_sync
    setattr(wrapper, _GUARDED, True)
    return wrapper


def guard_tasks(app: Any) -> int:
    """Wrap every task function `app` knows now (its own and shared ones, generators
    left alone) so that old connections are closed around each run; a function is
    wrapped once. Returns how many were wrapped."""
    count = 0
    for spec in list(app.tasks.values()):
        func = spec.func
        if getattr(func, _GUARDED, False) or spec.generating:
            continue
        spec.func = _guarded(func)
        count += 1
    return count


class DjangoConnectionsPlugin(Hooks):
    """Wraps the app's tasks when its worker starts (every task module is imported by
    then)."""

    name = "DjangoConnectionsPlugin"

    def start(self, *args: Any, **kwargs: Any) -> None:
        app = kwargs.get("app")
        if app is not None:
            guard_tasks(app)


def guard_connections(app: Any) -> None:
    """Close Django's old database connections around each task `app`'s worker runs
    (`get_app()`'s app has this already; call it for an app of your own)."""
    registered = (p for plugins in app.plugins.values() for p in plugins)
    if not any(isinstance(p, DjangoConnectionsPlugin) for p in registered):
        app.add_plugin(DjangoConnectionsPlugin(), trigger_names=["-"])


__all__ = ["DjangoConnectionsPlugin", "guard_connections", "guard_tasks"]
