"""What a task looks like on RabbitMQ, and the names of its queues. No I/O.

```
  qtasks.<namespace>.<queue>                 work queue (classic, durable, x-max-priority 10)
  qtasks.<namespace>.<queue>.delay.<ms>      delay queue: every message waits <ms>, then is
                                             dead-lettered into the work queue
  qtasks.<namespace>.dead                    dead letters (kept for result_ttl each)
```

A message body is the task record as JSON (its fields by name); its properties carry the
uuid (`message_id`) and the AMQP priority. A dead letter carries its reason, time and
kind in headers and, as its body, the final record or the raw text that could not be
read as a task.
"""

from __future__ import annotations

import math
from typing import Any

from qtasks.core import codec
from qtasks.core.models import DeadLetter, TaskRecord
from qtasks.exc import BackendError

#: AMQP priorities 0..MAX_PRIORITY: qtasks priority p is AMQP priority MAX_PRIORITY - p
#: (lower value first), clamped; RabbitMQ keeps one internal queue per level, so few.
MAX_PRIORITY = 10
#: Delays are rounded up to this many significant digits (in milliseconds), which bounds
#: the number of delay queues (900 per decade) and makes a task late by under 1 %.
DELAY_DIGITS = 3

_FIELDS = ("uuid", "task_name", "priority", "args", "kwargs", "status", "created_at",
           "updated_at")  # fmt: skip
_REASON, _DEAD_AT, _KIND, _QUEUE = (
    "x-qtasks-reason",
    "x-qtasks-dead-at",
    "x-qtasks-kind",
    "x-qtasks-queue",
)


class Malformed(BackendError):
    """A message that is not a task: not JSON, or a required field missing or wrong."""


def work_queue(namespace: str, queue: str) -> str:
    return f"qtasks.{namespace}.{queue}"


def delay_queue(namespace: str, queue: str, delay_ms: int) -> str:
    return f"qtasks.{namespace}.{queue}.delay.{delay_ms}"


def dead_queue(namespace: str) -> str:
    return f"qtasks.{namespace}.dead"


def amqp_priority(priority: int) -> int:
    """The AMQP priority (higher first) of a qtasks priority (lower first)."""
    return MAX_PRIORITY - min(max(priority, 0), MAX_PRIORITY)


def delay_ms(eta: float | None, now: float) -> int:
    """How long a task must wait in milliseconds, rounded up to `DELAY_DIGITS` significant
    digits (never early); 0 when it is due."""
    if eta is None or eta <= now:
        return 0
    ms = math.ceil((eta - now) * 1000 - 1e-6)  # not 401 for 400.0000001 (float noise)
    step = 10 ** max(0, len(str(ms)) - DELAY_DIGITS)
    rounded: int = -(-ms // step) * step
    return rounded


def encode(record: TaskRecord) -> bytes:
    """The message body of a record; `SerializationError` if it is not JSON-able."""
    return codec.dumps(
        {
            **{name: getattr(record, name) for name in _FIELDS},
            "returning": record.returning,
            "traceback": record.traceback,
            "extra": record.extra,
            "eta": record.eta,
            "attempts": record.attempts,
            "queue": record.queue,
        },
        what=f"task {record.uuid}",
    )


def decode(body: bytes) -> TaskRecord:
    """The record of a message body, or `Malformed` saying what is wrong."""
    try:
        data = codec.loads(body)
    except ValueError as exc:
        raise Malformed(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise Malformed(f"not a JSON object but {type(data).__name__}")
    missing = [name for name in _FIELDS if name not in data]
    if missing:
        raise Malformed(f"missing fields: {', '.join(missing)}")
    try:
        record = TaskRecord(
            uuid=_typed(data, "uuid", str),
            task_name=_typed(data, "task_name", str),
            priority=_typed(data, "priority", int),
            args=_typed(data, "args", list),
            kwargs=_typed(data, "kwargs", dict),
            status=_typed(data, "status", str),
            created_at=float(data["created_at"]),
            updated_at=float(data["updated_at"]),
            returning=data.get("returning"),
            traceback=data.get("traceback"),
            extra=dict(data.get("extra") or {}),
            eta=None if data.get("eta") is None else float(data["eta"]),
            attempts=int(data.get("attempts") or 0),
            queue=str(data.get("queue") or "default"),
        )
    except (TypeError, ValueError) as exc:
        raise Malformed(str(exc)) from exc
    return record


def _typed(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Malformed(f"field {name!r} is {type(value).__name__}, not {kind.__name__}")
    return value


def letter_headers(reason: str, dead_at: float, queue: str, raw: bool) -> dict[str, Any]:
    return {
        _REASON: reason,
        _DEAD_AT: repr(dead_at),
        _QUEUE: queue,
        _KIND: "raw" if raw else "record",
    }


def letter(uuid: str, headers: dict[str, Any], body: bytes) -> DeadLetter:
    """A dead letter as read back from the dead-letter queue."""
    reason = str(headers.get(_REASON, "unknown"))
    dead_at = float(str(headers.get(_DEAD_AT, "0")))
    queue = str(headers.get(_QUEUE, "default"))
    if headers.get(_KIND) == "raw":
        return DeadLetter(uuid, queue, reason, dead_at, raw=body.decode("utf-8", "replace"))
    try:
        record = decode(body)
    except Malformed:  # written by us as a record: if not, keep its text
        return DeadLetter(uuid, queue, reason, dead_at, raw=body.decode("utf-8", "replace"))
    return DeadLetter(uuid, queue, reason, dead_at, record=record)


__all__ = [
    "MAX_PRIORITY",
    "Malformed",
    "amqp_priority",
    "dead_queue",
    "decode",
    "delay_ms",
    "delay_queue",
    "encode",
    "letter",
    "letter_headers",
    "work_queue",
]
