"""The qtasks web dashboard: an ASGI app over an app's public operating API.

    from qtasks.web.dashboard import dashboard

    asgi = dashboard(app)                      # serve it: uvicorn, hypercorn, ...
    host.mount("/ops", dashboard(app, token="s3cret"))   # or inside a Starlette/FastAPI host

`qtasks -A module:app web` serves it with uvicorn. Needs the web extra (in a checkout of
qtasks: `pip install ".[web]"`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from qtasks.web.dashboard.actions import Actions
from qtasks.web.dashboard.client import AppClient
from qtasks.web.dashboard.pages import Pages
from qtasks.web.dashboard.render import STATIC, Renderer
from qtasks.web.dashboard.sampler import Sampler
from qtasks.web.dashboard.security import Access, AccessMiddleware


class Dashboard:
    """The dashboard of one app, an ASGI app (HTTP and lifespan).

    `mount(path, asgi_app)` adds another ASGI app under `path` (a `/metrics` endpoint,
    say), behind the same access checks; mounts take precedence over the pages."""

    def __init__(
        self,
        app: Any,
        *,
        read_only: bool = False,
        token: str | None = None,
        basic_auth: str | None = None,
        trusted_origins: Iterable[str] = (),
        refresh: float = 5.0,
        sample_interval: float = 5.0,
        mounts: Mapping[str, ASGIApp] | None = None,
        metrics: bool | str | os.PathLike[str] = False,
    ) -> None:
        if refresh <= 0:
            raise ValueError(f"refresh must be > 0 seconds, got {refresh!r}")
        self.access = Access(token, basic_auth, read_only, tuple(trusted_origins))
        self.client = AppClient(app)
        self.sampler = Sampler(self.client, sample_interval)
        renderer = Renderer(
            app_name=self.client.name,
            read_only=read_only,
            refresh=refresh,
            trusted_origins=self.access.trusted_origins,
        )
        pages = Pages(self.client, self.sampler, renderer)
        actions = Actions(self.client, renderer)
        routes: list[BaseRoute] = [
            Route("/", pages.overview, name="overview"),
            Route("/series.json", pages.series, name="series"),
            Route("/tasks", pages.tasks, name="tasks"),
            Route("/tasks/{uuid}", pages.task, name="task"),
            Route("/dead", pages.dead, name="dead"),
            Route("/schedules", pages.schedules, name="schedules"),
            Route("/confirm/{action}", actions.confirm, name="confirm"),
            Route("/do/{action}", actions.perform, methods=["POST"], name="do"),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
        self._starlette = Starlette(routes=routes, lifespan=self._lifespan)
        for path, sub in (mounts or {}).items():
            self.mount(path, sub)
        self._asgi: ASGIApp = AccessMiddleware(self._starlette, self.access)
        if metrics is not False:
            self.serve_metrics(None if metrics is True else metrics)

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Serve the ASGI `app` under `path` ("/metrics"), behind the dashboard's access
        checks (authentication, read-only)."""
        self._starlette.router.routes.insert(0, Mount(path, app=app, name=name))

    def serve_metrics(self, directory: str | os.PathLike[str] | None = None) -> None:
        """Serve `/metrics` in Prometheus' text format, behind the access checks: the
        gauge `qtasks_task_records{queue, status}` from the dashboard's sampled counts,
        and the task counters of `qtasks.metrics`, summed over the worker snapshots in
        `directory` (their `QTASKS_METRICS_DIR`) or, without one, those of this process
        (the app's `TaskMetrics` plugin, added if it has none). Raises `ConfigError`
        without prometheus-client."""
        from qtasks.metrics import asgi_app, install

        app = self.client.app
        source: Any = Path(directory) if directory is not None else install(app)
        self.mount("/metrics", asgi_app(source, counts=self.sampler.latest), name="metrics")

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        self.sampler.ensure_running()
        try:
            yield
        finally:
            await self.sampler.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)


def dashboard(
    app: Any,
    *,
    read_only: bool = False,
    token: str | None = None,
    basic_auth: str | None = None,
    trusted_origins: Iterable[str] = (),
    refresh: float = 5.0,
    sample_interval: float = 5.0,
    mounts: Mapping[str, ASGIApp] | None = None,
    metrics: bool | str | os.PathLike[str] = False,
) -> Dashboard:
    """The dashboard of `app` (a `qtasks.QueueTasks` or `qtasks.asyncio.QueueTasks`) as
    an ASGI app.

    - `read_only`: no action forms; any request but GET/HEAD gets 403.
    - `token` or `basic_auth` ("user:password"): required on every request (401 without).
    - `trusted_origins`: origins allowed to post actions besides the dashboard's own host.
    - `refresh`: seconds between live updates of a page; `sample_interval`: seconds
      between two samples of the counts for the overview's chart.
    - `mounts`: extra ASGI apps by path, as `Dashboard.mount`.
    - `metrics`: True to serve `/metrics` with this process's counters, or the path of
      the directory the workers write their metrics snapshots to (see
      `Dashboard.serve_metrics`).

    Raises `TypeError` when `app` is not a qtasks app, `ValueError` for bad settings,
    `ConfigError` for `metrics` without prometheus-client."""
    return Dashboard(
        app,
        read_only=read_only,
        token=token,
        basic_auth=basic_auth,
        trusted_origins=trusted_origins,
        refresh=refresh,
        sample_interval=sample_interval,
        mounts=mounts,
        metrics=metrics,
    )


__all__ = ["Access", "Dashboard", "dashboard"]
