"""How the NATS backend writes a task: the message queued in the work stream, the
record in the results bucket, the dead letter in the dead-letter stream. All JSON
objects with named fields, so another program can publish a task or read a result.

```
  task message    {"uuid", "task_name", "priority", "args", "kwargs", "created_at",
                   "extra", "eta", "queue"}           header Nats-Msg-Id: the uuid
  stored record   every TaskRecord field, plus "expires_at" once settled
  dead letter     {"uuid", "queue", "reason", "dead_at", "record" | "raw" | "raw_base64"}
```
"""

from __future__ import annotations

import base64
import dataclasses
import time
from typing import Any

import orjson

from qtasks.core import codec as serialization
from qtasks.core.models import DeadLetter, TaskRecord
from qtasks.core.status import NEW, SETTLED_STATUSES
from qtasks.exc import BackendError

_TASK_FIELDS = ("uuid", "task_name", "priority", "args", "kwargs", "created_at")
_TYPES: dict[str, tuple[type, ...]] = {
    "uuid": (str,),
    "task_name": (str,),
    "priority": (int,),
    "args": (list,),
    "kwargs": (dict,),
    "created_at": (int, float),
    "extra": (dict,),
    "queue": (str,),
}


class Undecodable(BackendError, ValueError):
    """Stored text that is not a task in this format; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot decode a stored task: {reason}")
        self.reason = reason


def _dumps(value: Any, r: TaskRecord) -> bytes:
    try:
        return serialization.dumps(value, what="task record")
    except Exception:  # name the part that failed
        for what, part in (
            ("task args", r.args),
            ("task kwargs", r.kwargs),
            ("task result", r.returning),
            ("task extra fields", r.extra),
        ):
            serialization.dumps(part, what=what)
        raise


def task_message(r: TaskRecord) -> bytes:
    """The message a task is queued as (what a worker needs to run it)."""
    return _dumps(
        {"uuid": r.uuid, "task_name": r.task_name, "priority": r.priority, "args": r.args,
         "kwargs": r.kwargs, "created_at": r.created_at, "extra": r.extra, "eta": r.eta,
         "queue": r.queue},
        r,
    )  # fmt: skip


def _object(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Undecodable(f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise Undecodable(f"a JSON {type(value).__name__}, not an object")
    return value


def _checked(value: dict[str, Any], required: tuple[str, ...]) -> None:
    missing = [f for f in required if f not in value]
    if missing:
        raise Undecodable(f"missing field(s) {', '.join(missing)}")
    for field, types in _TYPES.items():
        if field in value and not isinstance(value[field], types):
            raise Undecodable(f"field {field!r} is a {type(value[field]).__name__}")
    eta = value.get("eta")
    if eta is not None and not isinstance(eta, (int, float)):
        raise Undecodable(f"field 'eta' is a {type(eta).__name__}")


def task(raw: bytes, queue: str) -> TaskRecord:
    """The task of a queued message (status `new`); `Undecodable` when it is not one."""
    value = _object(raw)
    _checked(value, _TASK_FIELDS)
    created = float(value["created_at"])
    eta = value.get("eta")
    return TaskRecord(
        uuid=value["uuid"], task_name=value["task_name"], priority=value["priority"],
        args=value["args"], kwargs=value["kwargs"], status=NEW, created_at=created,
        updated_at=created, extra=value.get("extra") or {},
        eta=None if eta is None else float(eta), queue=value.get("queue") or queue,
    )  # fmt: skip


def stored(r: TaskRecord, result_ttl: float) -> bytes:
    """A record as the results bucket keeps it; settled ones say when they expire."""
    value = dataclasses.asdict(r)
    if r.status in SETTLED_STATUSES:
        value["expires_at"] = r.updated_at + result_ttl
    return _dumps(value, r)


def record(raw: bytes, now: float | None = None) -> TaskRecord | None:
    """The stored record, or None when its time to live is over."""
    value = _object(raw)
    _checked(value, (*_TASK_FIELDS, "status", "updated_at"))
    expires = value.pop("expires_at", None)
    if expires is not None and expires <= (time.time() if now is None else now):
        return None
    try:
        return TaskRecord(**value)
    except TypeError as exc:
        raise Undecodable(str(exc)) from None


def dead_letter(
    uuid: str, queue: str, reason: str, dead_at: float, r: TaskRecord | None, raw: bytes | None
) -> bytes:
    body = {"uuid": uuid, "queue": queue, "reason": reason, "dead_at": dead_at}
    if r is not None:
        body["record"] = dataclasses.asdict(r)
    if raw is not None:
        try:
            body["raw"] = raw.decode()
        except UnicodeDecodeError:  # JSON holds text only: bytes that are not UTF-8 as base64
            body["raw_base64"] = base64.b64encode(raw).decode()
    return orjson.dumps(body)


def read_dead_letter(data: bytes) -> DeadLetter:
    value = orjson.loads(data)
    rec = value.get("record")
    text: str | None = value.get("raw")
    if "raw_base64" in value:  # `text.encode("utf-8", "surrogateescape")` gives the bytes back
        text = base64.b64decode(value["raw_base64"]).decode("utf-8", "surrogateescape")
    return DeadLetter(
        value["uuid"], value["queue"], value["reason"], float(value["dead_at"]),
        record=None if rec is None else TaskRecord(**rec), raw=text,
    )  # fmt: skip


__all__ = [
    "Undecodable", "dead_letter", "read_dead_letter", "record", "stored", "task", "task_message",
]  # fmt: skip
