"""The OpenAPI 3.1 document of `qtasks.web.api`."""

from __future__ import annotations

from typing import Any

_TASK = {
    "type": "object",
    "required": ["uuid", "status", "task_name"],
    "properties": {
        "uuid": {"type": "string", "format": "uuid"},
        "status": {
            "type": "string",
            "description": "new, process, success, error, cancel or retry",
        },
        "task_name": {"type": "string"},
        "priority": {"type": "integer"},
        "args": {"type": "array", "items": {}},
        "kwargs": {"type": "object"},
        "returning": {"description": "the task's result (JSON), once status is success"},
        "traceback": {"type": ["string", "null"]},
        "progress": {
            "type": ["object", "null"],
            "description": "the last report of set_progress: value (0 to 1), message, at",
        },
        "created_at": {"type": "number", "description": "epoch seconds"},
        "updated_at": {"type": "number", "description": "epoch seconds"},
    },
}
_ENQUEUE = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "description": "the task's name, as its worker knows it"},
        "args": {"type": "array", "items": {}, "default": []},
        "kwargs": {"type": "object", "default": {}},
        "priority": {"type": "integer", "description": "lower runs first"},
        "queue": {"type": "string"},
        "delay": {"type": "number", "minimum": 0, "description": "seconds"},
        "timeout": {
            "type": "number",
            "minimum": 0,
            "description": "seconds to wait for the result before answering",
        },
    },
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


def _json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_UUID_PARAM = {"name": "uuid", "in": "path", "required": True, "schema": {"type": "string"}}


def document(title: str) -> dict[str, Any]:
    """The OpenAPI document, with `title` as the API's title."""
    task = {"$ref": "#/components/schemas/Task"}
    error = {"$ref": "#/components/schemas/Error"}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": {
            "/tasks": {
                "post": {
                    "operationId": "enqueue",
                    "summary": "Enqueue a task by name (and wait for it with timeout)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Enqueue"}}
                        },
                    },
                    "responses": {
                        "201": _json(task, "queued (no timeout, or not finished in time)"),
                        "200": _json(task, "finished within timeout"),
                        "400": _json(error, "malformed request, or arguments the app refused"),
                        "503": _json(error, "the backend is unavailable"),
                    },
                }
            },
            "/tasks/{uuid}": {
                "get": {
                    "operationId": "get",
                    "summary": "A task's current record",
                    "parameters": [_UUID_PARAM],
                    "responses": {
                        "200": _json(task, "the task"),
                        "400": _json(error, "not a uuid"),
                        "404": _json(error, "unknown or expired"),
                        "503": _json(error, "the backend is unavailable"),
                    },
                }
            },
            "/tasks/{uuid}/wait": {
                "get": {
                    "operationId": "wait",
                    "summary": "Wait for a task to finish",
                    "parameters": [
                        _UUID_PARAM,
                        {
                            "name": "timeout",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "number", "minimum": 0, "maximum": 300},
                            "description": "seconds (default 30)",
                        },
                    ],
                    "responses": {
                        "200": _json(task, "finished"),
                        "202": _json(task, "not finished within timeout"),
                        "400": _json(error, "not a uuid, or a bad timeout"),
                        "404": _json(error, "unknown or expired"),
                        "503": _json(error, "the backend is unavailable"),
                    },
                }
            },
        },
        "components": {"schemas": {"Task": _TASK, "Enqueue": _ENQUEUE, "Error": _ERROR}},
    }


__all__ = ["document"]
