"""The dashboard's pages (GET): overview, tasks, one task, dead letters, schedules, and
the chart's JSON. Each reads the app through `AppClient` only."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qtasks.exc import CapabilityError, ConfigError, QTasksError
from qtasks.web.dashboard import views
from qtasks.web.dashboard.client import AppClient
from qtasks.web.dashboard.render import Renderer
from qtasks.web.dashboard.sampler import Sampler

#: Tasks per page of the tasks list; dead letters per page.
PAGE_SIZE = 50


class Pages:
    """The GET endpoints, sharing the app client, the sampler and the renderer."""

    def __init__(self, client: AppClient, sampler: Sampler, renderer: Renderer) -> None:
        self.client = client
        self.sampler = sampler
        self.render = renderer

    async def _optional(self, method: str, default: Any) -> tuple[Any, str | None]:
        """`method()`'s result, or `default` and why, when the backend cannot do it."""
        try:
            return await self.client.call(method), None
        except (CapabilityError, NotImplementedError) as exc:
            return default, str(exc)

    async def overview(self, request: Request) -> Response:
        self.sampler.ensure_running()
        (paused, paused_error), (workers, workers_error) = await asyncio.gather(
            self._optional("paused_queues", []), self._optional("live_workers", [])
        )
        try:
            counts = await self.sampler.latest()
        except QTasksError:  # the backend is down, say: the page says so
            counts = {}
        queues = views.queue_rows(counts, paused)
        totals = {s: sum(q.counts.get(s, 0) for q in queues) for s in views.STATUSES}
        return self.render.page(
            request,
            "overview.html",
            {
                "queues": queues,
                "totals": totals,
                "statuses": views.STATUSES,
                "workers": views.worker_rows(workers),
                "workers_error": workers_error,
                "paused_error": paused_error,
                "sample_error": self.sampler.error,
            },
        )

    async def series(self, request: Request) -> Response:
        self.sampler.ensure_running()
        return JSONResponse(self.sampler.series())

    async def tasks(self, request: Request) -> Response:
        q = request.query_params
        filters = {
            "status": q.get("status") or None,
            "task_name": q.get("name") or None,
            "queue": q.get("queue") or None,
            "since": _moment(q.get("since")),
            "until": _moment(q.get("until")),
        }
        cursor = q.get("cursor") or None
        error = None
        rows: list[dict[str, Any]] = []
        next_cursor = None
        try:
            page = await self.client.call("list_tasks", **filters, limit=PAGE_SIZE, cursor=cursor)
            rows = [views.task_row(t) for t in page]
            next_cursor = page.cursor
        except (ConfigError, QTasksError) as exc:
            error = str(exc)
        form = {k: q.get(k, "") for k in ("status", "name", "queue", "since", "until")}
        return self.render.page(
            request,
            "tasks.html",
            {
                "rows": rows,
                "cursor": cursor,
                "next_cursor": next_cursor,
                "form": form,
                "statuses": views.STATUSES,
                "error": error,
                "filtered": any(form.values()),
            },
            status_code=400 if error else 200,
        )

    async def task(self, request: Request) -> Response:
        uuid = request.path_params["uuid"]
        try:
            task = await self.client.call("get", uuid)
        except (ConfigError, QTasksError, ValueError):
            task = None
        if task is None:
            return self.render.page(
                request, "missing.html", {"what": f"task {uuid}"}, status_code=404
            )
        chain = await views.retry_chain(self.client, task)
        return self.render.page(
            request,
            "task.html",
            {
                "task": views.task_detail(task),
                "chain": [views.task_row(t) for t in chain],
            },
        )

    async def dead(self, request: Request) -> Response:
        offset = _int(request.query_params.get("offset"), 0)
        try:
            letters = await self.client.call("dead_letters", limit=PAGE_SIZE + 1, offset=offset)
            error = None
        except (CapabilityError, NotImplementedError) as exc:
            letters, error = [], str(exc)
        rows = [
            {
                "uuid": str(d.uuid),
                "queue": d.queue,
                "reason": d.reason,
                "dead_at": views.when(d.dead_at),
                "task_name": d.record.task_name if d.record is not None else "",
                "decodable": d.record is not None,
                "raw": None if d.record is not None else str(d.raw)[:200],
            }
            for d in letters[:PAGE_SIZE]
        ]
        return self.render.page(
            request,
            "dead.html",
            {
                "rows": rows,
                "offset": offset,
                "next_offset": offset + PAGE_SIZE if len(letters) > PAGE_SIZE else None,
                "prev_offset": max(0, offset - PAGE_SIZE) if offset else None,
                "error": error,
            },
        )

    async def schedules(self, request: Request) -> Response:
        rows: list[dict[str, str]] = []
        error = None
        if self.client.has_schedules:
            try:
                rows = views.schedule_rows(await self.client.call("schedules"))
            except (CapabilityError, NotImplementedError) as exc:
                error = str(exc)
        found = {k for row in rows for k in row}
        columns = [c for c in views.SCHEDULE_COLUMNS if c in found]
        columns += sorted(found - set(columns))
        return self.render.page(
            request,
            "schedules.html",
            {
                "has_scheduler": self.client.has_schedules,
                "rows": rows,
                "columns": columns,
                "error": error,
                "manageable": self.client.can_manage_schedules,
            },
        )


def _moment(text: str | None) -> Any:
    """A `since`/`until` field: epoch seconds, or a span ("15m", "1h") checked by the app."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text else default
    except ValueError:
        return default


__all__ = ["PAGE_SIZE", "Pages"]
