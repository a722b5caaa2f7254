"""One way to call a sync or an async app from the dashboard's event loop: the async
app's methods are awaited, the sync app's run in Starlette's thread pool so that a slow
backend never blocks the loop."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from starlette.concurrency import run_in_threadpool

import qtasks.asyncio


class AppClient:
    """Calls the public methods of `app` (a `qtasks.QueueTasks` or a
    `qtasks.asyncio.QueueTasks`) by name, always awaited."""

    def __init__(self, app: Any) -> None:
        if not hasattr(app, "list_tasks") or not hasattr(app, "backend"):
            raise TypeError(f"{app!r} is not a qtasks app")
        self.app = app
        self.is_async = isinstance(app, qtasks.asyncio.QueueTasks)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`app.method(*args, **kwargs)`, awaited; raises what the method raises."""
        function = getattr(self.app, method)
        if self.is_async:
            result = function(*args, **kwargs)
        else:
            result = await run_in_threadpool(functools.partial(function, *args, **kwargs))
        # A method a plugin or a scheduler added may be async on a sync app too.
        return await result if inspect.isawaitable(result) else result

    @property
    def has_schedules(self) -> bool:
        """Whether the app has a scheduler (a `schedules()` method)."""
        return callable(getattr(self.app, "schedules", None))

    @property
    def can_manage_schedules(self) -> bool:
        """Whether the app can pause, resume and run its schedules (the scheduler's
        `pause_schedule`, `resume_schedule`, `run_schedule_now`, `remove_schedule`)."""
        names = ("pause_schedule", "resume_schedule", "run_schedule_now", "remove_schedule")
        return all(callable(getattr(self.app, n, None)) for n in names)

    @property
    def name(self) -> str:
        return str(getattr(self.app, "name", "qtasks"))


__all__ = ["AppClient"]
