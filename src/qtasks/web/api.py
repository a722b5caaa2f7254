"""A small HTTP API over an app, as an ASGI application with no dependency:

    POST /tasks                 {"name": ..., "args": [...], "kwargs": {...},
                                 "priority": 0, "queue": "default", "delay": 0,
                                 "timeout": 10}      201 queued / 200 finished
    GET  /tasks/{uuid}          200 the task / 404
    GET  /tasks/{uuid}/wait?timeout=30               200 finished / 202 not yet / 404
    GET  /openapi.json          the OpenAPI document

Serve it with any ASGI server (`uvicorn 'qtasks.web.api:from_env'` with
`QTASKS_API_APP=module:app`) or mount it in Starlette/FastAPI
(`api.mount("/qtasks", create_api(app))`). Tasks are enqueued by name, so the API needs
no import of the task code: the worker that defines them runs them. The API has no
authentication of its own: put it behind what protects your other internal services.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import orjson

from qtasks.core.status import FINAL_STATUSES
from qtasks.exc import BackendError, QTasksError
from qtasks.web.openapi import document

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: The longest wait a request may ask for, in seconds.
MAX_WAIT = 300.0
_ENQUEUE_KEYS = {"name", "args", "kwargs", "priority", "queue", "delay", "timeout"}


class BadRequest(Exception):
    """The request cannot be served as sent (answered with 400)."""


class TaskAPI:
    """The ASGI application of `create_api`; `app` is a sync or async qtasks app."""

    def __init__(self, app: Any, *, title: str | None = None) -> None:
        self.app = app
        self.asynchronous = inspect.iscoroutinefunction(app.get)
        self.openapi = orjson.dumps(document(title or f"qtasks: {app.name}"))

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        function = getattr(self.app, method)
        if self.asynchronous:
            return await function(*args, **kwargs)
        return await asyncio.to_thread(function, *args, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served alone: nothing to set up
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        try:
            status, body = await self._route(scope, receive)
        except BadRequest as exc:
            status, body = 400, {"error": str(exc)}
        except BackendError as exc:  # the backend is down or refused: not the caller's fault
            status, body = 503, {"error": f"{type(exc).__name__}: {exc}"}
        except QTasksError as exc:  # arguments the app refused (encoding, priority...)
            status, body = 400, {"error": f"{type(exc).__name__}: {exc}"}
        payload = body if isinstance(body, bytes) else orjson.dumps(body, default=str)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _route(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # mounted: ASGI paths include the mount point
            path = path[len(root) :]
        method, parts = scope["method"], [p for p in path.split("/") if p]
        if parts == ["openapi.json"] and method == "GET":
            return 200, self.openapi
        if parts == ["tasks"] and method == "POST":
            return await self._enqueue(await _json_body(receive))
        if len(parts) in (2, 3) and parts[0] == "tasks" and method == "GET":
            uuid = _uuid(parts[1])
            if len(parts) == 2:
                task = await self._call("get", uuid)
                return (404, {"error": "task not found"}) if task is None else (200, _task(task))
            if parts[2] == "wait":
                return await self._wait(uuid, _query_timeout(scope))
        return 404, {"error": f"no route {method} {scope['path']}"}

    async def _enqueue(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise BadRequest("the body must be a JSON object with a task name")
        unknown = set(body) - _ENQUEUE_KEYS
        if unknown:
            raise BadRequest(f"unknown fields: {sorted(unknown)}")
        args, kwargs = body.get("args", []), body.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise BadRequest("args must be a list and kwargs an object")
        priority, queue = body.get("priority"), body.get("queue")
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
            raise BadRequest("priority must be a whole number")
        if queue is not None and (not isinstance(queue, str) or not queue):
            raise BadRequest("queue must be a non-empty string")
        timeout = _seconds(body.get("timeout"), "timeout")
        task = await self._call(
            "enqueue",
            body["name"],
            args,
            kwargs,
            priority=priority,
            queue=queue,
            delay=_seconds(body.get("delay"), "delay"),
        )
        if timeout:
            finished = await self._call("wait", task.uuid, timeout)
            if finished is not None and finished.status in FINAL_STATUSES:
                return 200, _task(finished)
        return 201, _task(task)

    async def _wait(self, uuid: str, timeout: float) -> tuple[int, Any]:
        task = await self._call("wait", uuid, timeout)
        if task is not None and task.status in FINAL_STATUSES:
            return 200, _task(task)
        current = await self._call("get", uuid)
        if current is None:
            return 404, {"error": "task not found"}
        return 202, _task(current)


def _task(task: Any) -> dict[str, Any]:
    """A `Task` as JSON-ready values (times as epoch seconds)."""
    return {
        "uuid": str(task.uuid),
        "status": task.status,
        "task_name": task.task_name,
        "priority": task.priority,
        "args": list(task.args),
        "kwargs": task.kwargs,
        "returning": task.returning,
        "traceback": task.traceback,
        "progress": getattr(task, "progress", None),
        "created_at": task.created_at.timestamp(),
        "updated_at": task.updated_at.timestamp(),
    }


async def _json_body(receive: Receive) -> Any:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None


def _uuid(text: str) -> str:
    try:
        return str(UUID(text))
    except ValueError:
        raise BadRequest(f"not a uuid: {text!r}") from None


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise BadRequest(f"{name} must be a number of seconds >= 0")
    return min(float(value), MAX_WAIT)


def _query_timeout(scope: Scope) -> float:
    query = parse_qs(scope.get("query_string", b"").decode())
    raw = query.get("timeout", ["30"])[-1]
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"timeout must be a number, got {raw!r}") from None
    seconds = _seconds(value, "timeout")
    return 30.0 if seconds is None else seconds


def create_api(app: Any, *, title: str | None = None) -> TaskAPI:
    """The HTTP API of `app` (a sync or async qtasks app) as an ASGI application."""
    return TaskAPI(app, title=title)


def from_env() -> TaskAPI:
    """`create_api` for the app named by `QTASKS_API_APP=module:attribute` (for ASGI
    servers started with a factory: `uvicorn --factory qtasks.web.api:from_env`)."""
    import importlib

    target = os.environ.get("QTASKS_API_APP", "")
    module, _, attribute = target.partition(":")
    if not module or not attribute:
        raise QTasksError("QTASKS_API_APP must name the app as module:attribute")
    app = getattr(importlib.import_module(module), attribute)
    return create_api(app() if inspect.isfunction(app) else app)


__all__ = ["MAX_WAIT", "TaskAPI", "create_api", "from_env"]
