"""Starlette integration: `lifespan(app)` runs a qtasks app with the web app, and
`get_app(request)` gives a route that app.

    from starlette.applications import Starlette
    from qtasks.contrib.starlette import get_app, lifespan

    web = Starlette(routes=[...], lifespan=lifespan(app))            # worker in-process
    web = Starlette(routes=[...], lifespan=lifespan(app, worker=False))  # client only

The same works for any ASGI framework whose lifespan is an async context manager
factory taking the web app: Starlette, FastAPI, Litestar (`lifespan=[lifespan(app)]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

#: The key under which the app is kept in the lifespan state and on `web.state`.
STATE_KEY = "qtasks"


def lifespan(
    app: Any,
    *,
    worker: bool = True,
    num_workers: int | None = None,
    queues: list[str] | None = None,
    concurrency: int | None = None,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[dict[str, Any]]]:
    """A lifespan for the web app: with `worker=True`, a worker of `app` (sync or async)
    runs in this process from start-up to shutdown (`num_workers`, `queues`,
    `concurrency` as for `app.start`; an async app's worker runs on the web server's
    loop, a sync app's on a thread of its own); with `worker=False`, the web app is
    only a client (tasks run in separate `qtasks run` processes). Either way the app is
    put in the lifespan state and on `web.state` under `"qtasks"`, where `get_app`
    finds it. A worker that fails to start fails the web app's start-up."""

    @contextlib.asynccontextmanager
    async def run(web: Any) -> AsyncIterator[dict[str, Any]]:
        state = getattr(web, "state", None)
        if state is not None:
            setattr(state, STATE_KEY, app)
        if not worker:
            yield {STATE_KEY: app}
            return
        options = {"queues": queues, "concurrency": concurrency}
        asynchronous = inspect.iscoroutinefunction(app.start)
        if asynchronous:
            await app.start(num_workers, **options)
        else:
            await asyncio.to_thread(app.start, num_workers, **options)
        try:
            yield {STATE_KEY: app}
        finally:
            if asynchronous:
                await app.stop()
            else:
                await asyncio.to_thread(app.stop)

    return run


def get_app(request: Any) -> Any:
    """The qtasks app of the lifespan, for a request (or a websocket) of its web app.

    Raises `LookupError` when the web app was not started with `lifespan(app)`."""
    state = getattr(request, "state", None)
    app = getattr(state, STATE_KEY, None) if state is not None else None
    if app is None:  # servers that do not copy the lifespan state into each request
        web_state = getattr(getattr(request, "app", None), "state", None)
        app = getattr(web_state, STATE_KEY, None)
    if app is None:
        raise LookupError("no qtasks app: start the web app with lifespan=lifespan(app)")
    return app


__all__ = ["STATE_KEY", "get_app", "lifespan"]
