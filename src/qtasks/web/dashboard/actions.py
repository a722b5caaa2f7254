"""The dashboard's actions: retry, cancel (one task or the tasks matching filters),
purge, pause, resume, and requeue or purge dead letters. Each is two steps: a GET of
`/confirm/{action}` shows what will happen and a form, whose POST to `/do/{action}`
(checked against CSRF) does it and redirects to where the result shows."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from qtasks.exc import QTasksError
from qtasks.web.dashboard.client import AppClient
from qtasks.web.dashboard.render import Renderer
from qtasks.web.dashboard.security import allowed_origins, check_csrf, origin_of
from qtasks.web.dashboard.views import task_row

#: The most a form body may hold (bytes): actions carry a few short fields.
MAX_FORM = 16 * 1024
Fields = dict[str, str]
Done = tuple[str, str]  # (message, path to redirect to, under the mount)


@dataclasses.dataclass(frozen=True)
class Action:
    """One action: the form fields it takes, how to say what it will do, and doing it."""

    fields: tuple[str, ...]
    describe: Callable[[Fields], str]
    perform: Callable[[AppClient, Fields], Awaitable[Done]]
    danger: bool = False


def _filters_text(f: Fields) -> str:
    parts = [f"{k} {f[k]}" for k in ("status", "name", "queue", "since") if f.get(k)]
    return ", ".join(parts) if parts else "no filter"


async def _retry(client: AppClient, f: Fields) -> Done:
    copy = await client.call("retry", f["uuid"])
    if copy is None:
        return f"Task {f['uuid']} is unknown or expired", "/tasks"
    return f"Retried {f['uuid']} as {copy.uuid}", f"/tasks/{copy.uuid}"


async def _cancel(client: AppClient, f: Fields) -> Done:
    task = await client.call("cancel", f["uuid"], "cancelled from the dashboard")
    if task is None:
        return f"Task {f['uuid']} is unknown or already finished", f"/tasks/{f['uuid']}"
    return f"Cancel requested: {f['uuid']} is {task.status}", f"/tasks/{f['uuid']}"


async def _cancel_matching(client: AppClient, f: Fields) -> Done:
    count = await client.call(
        "cancel_tasks",
        status=f.get("status") or None,
        task_name=f.get("name") or None,
        queue=f.get("queue") or None,
        since=f.get("since") or None,
        reason="cancelled from the dashboard",
    )
    return f"Cancelled {count} task(s)", "/tasks"


async def _purge(client: AppClient, f: Fields) -> Done:
    count = await client.call(
        "purge_tasks", queue=f.get("queue") or None, status=f.get("status") or None
    )
    return f"Purged {count} task(s)", "/"


async def _pause(client: AppClient, f: Fields) -> Done:
    await client.call("pause_queue", f["queue"])
    return f"Paused queue {f['queue']}", "/"


async def _resume(client: AppClient, f: Fields) -> Done:
    await client.call("resume_queue", f["queue"])
    return f"Resumed queue {f['queue']}", "/"


async def _dead_requeue(client: AppClient, f: Fields) -> Done:
    count = await client.call("requeue_dead_letters", [f["uuid"]] if f.get("uuid") else None)
    return f"Requeued {count} dead letter(s)", "/dead"


async def _dead_purge(client: AppClient, f: Fields) -> Done:
    count = await client.call("purge_dead_letters", [f["uuid"]] if f.get("uuid") else None)
    return f"Purged {count} dead letter(s)", "/dead"


async def _schedule_pause(client: AppClient, f: Fields) -> Done:
    await client.call("pause_schedule", f["id"])
    return f"Paused schedule {f['id']}", "/schedules"


async def _schedule_resume(client: AppClient, f: Fields) -> Done:
    await client.call("resume_schedule", f["id"])
    return f"Resumed schedule {f['id']}", "/schedules"


async def _schedule_run(client: AppClient, f: Fields) -> Done:
    uuid = await client.call("run_schedule_now", f["id"])
    return f"Ran schedule {f['id']} now as {uuid}", f"/tasks/{uuid}"


async def _schedule_remove(client: AppClient, f: Fields) -> Done:
    removed = await client.call("remove_schedule", f["id"])
    said = "Removed" if removed else "No stored"
    return f"{said} schedule {f['id']}", "/schedules"


def _purge_text(f: Fields) -> str:
    what = " and ".join(
        x for x in (f"queue {f['queue']}" if f.get("queue") else "", f.get("status", "")) if x
    )
    return f"Delete every {what} task record" if what else "Delete EVERY task record of the app"


ACTIONS: dict[str, Action] = {
    "retry": Action(("uuid",), lambda f: f"Run task {f['uuid']} again (a linked copy)", _retry),
    "cancel": Action(("uuid",), lambda f: f"Cancel task {f['uuid']}", _cancel, danger=True),
    "cancel-matching": Action(
        ("status", "name", "queue", "since"),
        lambda f: f"Cancel every new or running task matching {_filters_text(f)}",
        _cancel_matching,
        danger=True,
    ),
    "purge": Action(("queue", "status"), _purge_text, _purge, danger=True),
    "pause": Action(("queue",), lambda f: f"Pause queue {f['queue']} for every worker", _pause),
    "resume": Action(("queue",), lambda f: f"Resume queue {f['queue']}", _resume),
    "dead-requeue": Action(
        ("uuid",),
        lambda f: (
            f"Requeue dead letter {f['uuid']}" if f.get("uuid") else "Requeue every dead letter"
        ),
        _dead_requeue,
    ),
    "dead-purge": Action(
        ("uuid",),
        lambda f: (
            f"Forget dead letter {f['uuid']}" if f.get("uuid") else "Forget every dead letter"
        ),
        _dead_purge,
        danger=True,
    ),
    "schedule-pause": Action(
        ("id",), lambda f: f"Pause schedule {f['id']} in every process", _schedule_pause
    ),
    "schedule-resume": Action(
        ("id",), lambda f: f"Resume schedule {f['id']} from now on", _schedule_resume
    ),
    "schedule-run": Action(
        ("id",), lambda f: f"Enqueue the task of schedule {f['id']} now", _schedule_run
    ),
    "schedule-remove": Action(
        ("id",),
        lambda f: (
            f"Forget schedule {f['id']} (one declared in code comes back when a "
            "process declaring it starts)"
        ),
        _schedule_remove,
        danger=True,
    ),
}
#: Fields an action cannot go without.
REQUIRED = {"retry": ("uuid",), "cancel": ("uuid",), "pause": ("queue",), "resume": ("queue",)}
REQUIRED.update({name: ("id",) for name in ACTIONS if name.startswith("schedule-")})


def _fields(action: Action, source: Any) -> Fields:
    return {k: str(source.get(k, "") or "").strip() for k in action.fields}


class Actions:
    """The confirmation pages and the POST endpoint."""

    def __init__(self, client: AppClient, renderer: Renderer) -> None:
        self.client = client
        self.render = renderer

    def _lookup(self, request: Request) -> tuple[str, Action] | Response:
        name = request.path_params["action"]
        action = ACTIONS.get(name)
        if action is None:
            return PlainTextResponse(f"Unknown action {name!r}", status_code=404)
        return name, action

    async def confirm(self, request: Request) -> Response:
        found = self._lookup(request)
        if isinstance(found, Response):
            return found
        name, action = found
        if self.render.read_only:
            return PlainTextResponse("Read-only dashboard", status_code=403)
        fields = _fields(action, request.query_params)
        missing = [k for k in REQUIRED.get(name, ()) if not fields.get(k)]
        if missing:
            return PlainTextResponse(f"Missing {', '.join(missing)}", status_code=400)
        # Back to the page the action came from, when it is one of the dashboard's own.
        back = request.headers.get("referer") or ""
        if origin_of(back) not in allowed_origins(request, self.render.trusted_origins):
            back = ""
        task = None
        if name in ("retry", "cancel"):  # say which task, as it stands now
            try:
                found_task = await self.client.call("get", fields["uuid"])
            except (QTasksError, ValueError):
                found_task = None
            if found_task is None:
                what = {"what": f"task {fields['uuid']}"}
                return self.render.page(request, "missing.html", what, status_code=404)
            task = task_row(found_task)
        return self.render.page(
            request,
            "confirm.html",
            {
                "action": name,
                "text": action.describe(fields),
                "fields": fields,
                "danger": action.danger,
                "back": back,
                "task": task,
            },
        )

    async def perform(self, request: Request) -> Response:
        found = self._lookup(request)
        if isinstance(found, Response):
            return found
        name, action = found
        body = await request.body()
        if len(body) > MAX_FORM:
            return PlainTextResponse("Form too large", status_code=413)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        refused = check_csrf(request, form)
        if refused is not None:
            return PlainTextResponse(f"Refused: {refused}", status_code=403)
        fields = _fields(action, form)
        missing = [k for k in REQUIRED.get(name, ()) if not fields.get(k)]
        if missing:
            return PlainTextResponse(f"Missing {', '.join(missing)}", status_code=400)
        base = str(request.scope.get("root_path") or "")
        try:
            message, path = await action.perform(self.client, fields)
        except (QTasksError, ValueError, KeyError) as exc:
            message, path = f"{name} failed: {exc}", "/"
        query = urlencode(self.render.flash.sign(message))
        return RedirectResponse(f"{base}{quote(path)}?{query}", 303)


__all__ = ["ACTIONS", "Action", "Actions"]
