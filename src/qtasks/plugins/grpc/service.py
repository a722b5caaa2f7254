"""What the gRPC service does, apart from the transport: one function per call, taking
the request and the app's client methods, returning the response."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from qtasks.core.status import ERROR, FINAL_STATUSES, SUCCESS
from qtasks.plugins.grpc.core import qtasks_pb2 as pb

#: The service's full name, as health checks and reflection know it.
SERVICE_NAME = "qtasks.v1.QTasksService"


async def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _json_list(text: str) -> list[Any]:
    value = orjson.loads(text) if text else []
    if not isinstance(value, list):
        raise ValueError("args_json must be a JSON array")
    return value


def _json_object(text: str) -> dict[str, Any]:
    value = orjson.loads(text) if text else {}
    if not isinstance(value, dict):
        raise ValueError("kwargs_json must be a JSON object")
    return value


def _failure(task: Any) -> str:
    lines = [line for line in str(task.traceback or "").strip().splitlines() if line.strip()]
    return f"task failed: {lines[-1] if lines else task.status}"


async def add_task(app: Any, request: pb.AddTaskRequest) -> pb.AddTaskResponse:
    """Enqueue `request.name`; with `request.timeout` > 0, wait up to that many seconds.

    `ok` is false when the request is malformed, the backend refused it, or the task
    finished with an error or was cancelled within the timeout (`error` says which);
    a task still running at the timeout answers `ok` with its uuid and no result."""
    try:
        args = _json_list(request.args_json)
        kwargs = _json_object(request.kwargs_json)
        task = await _call(
            app.enqueue, request.name, args, kwargs, priority=request.priority or None
        )
        uuid = str(task.uuid)
        if request.timeout <= 0:
            return pb.AddTaskResponse(ok=True, uuid=uuid)
        done = await _call(app.wait, uuid, request.timeout)
        if done is None or done.status not in FINAL_STATUSES:
            return pb.AddTaskResponse(ok=True, uuid=uuid)
        if done.status != SUCCESS:
            return pb.AddTaskResponse(ok=False, uuid=uuid, error=_failure(done))
        return pb.AddTaskResponse(ok=True, uuid=uuid, result_json=_dumps(done.returning))
    except Exception as exc:  # the caller is another program: it gets a readable reason
        return pb.AddTaskResponse(ok=False, error=f"{type(exc).__name__}: {exc}")


async def get_task(app: Any, request: pb.GetTaskRequest) -> pb.GetTaskResponse:
    """The task of `request.uuid`: `ok` false with "Task not found!" when unknown."""
    try:
        task = await _call(app.get, request.uuid)
        if task is None:
            return pb.GetTaskResponse(ok=False, error="Task not found!")
        response = pb.GetTaskResponse(ok=True, status=task.status)
        if task.status == ERROR:
            response.traceback = str(task.traceback or "")
        if request.include_result and task.status == SUCCESS:
            response.result_json = _dumps(task.returning)
        return response
    except Exception as exc:
        return pb.GetTaskResponse(ok=False, error=f"{type(exc).__name__}: {exc}")


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def run_sync(call: Coroutine[Any, Any, Any]) -> Any:
    """The value of `call`, a coroutine of this module given a sync app: nothing in it
    waits, so it ends at its first step, without an event loop."""
    try:
        call.send(None)
    except StopIteration as stop:
        return stop.value
    call.close()
    raise RuntimeError("a sync app's method returned an awaitable")


__all__ = ["SERVICE_NAME", "add_task", "get_task", "run_sync"]
