"""Pure decisions about a finished attempt: final record, retry, backoff (no I/O)."""

from __future__ import annotations

import copy
import dataclasses
import random
import time
import traceback as tb
import uuid as uuid_mod
from typing import Any

from qtasks.backends.base import TaskRecord
from qtasks.exc import TaskCancelError
from qtasks.schemas.task_exec import TaskExecSchema


def format_exception(exc: BaseException) -> str:
    return "".join(tb.format_exception(type(exc), exc, exc.__traceback__))


def _final(record: TaskRecord, status: str, **fields: Any) -> TaskRecord:
    # copy.copy is several times cheaper than dataclasses.replace on this hot path
    final = copy.copy(record)
    final.status = status
    final.updated_at = time.time()
    final.traceback = None
    for name, value in fields.items():
        setattr(final, name, value)
    return final


def success(record: TaskRecord, value: Any) -> TaskRecord:
    return _final(record, "success", returning=value)


def failure(record: TaskRecord, exc: BaseException) -> TaskRecord:
    if isinstance(exc, TaskCancelError):
        return _final(record, "cancel", extra=dict(record.extra, cancel_reason=str(exc)))
    return _final(record, "error", traceback=format_exception(exc))


def should_retry(schema: TaskExecSchema | None, record: TaskRecord, exc: BaseException) -> bool:
    if schema is None or not schema.retry or isinstance(exc, TaskCancelError):
        return False
    if schema.retry_on_exc and not isinstance(exc, tuple(schema.retry_on_exc)):
        return False
    return retries_left(schema, record) > 0


def retries_left(schema: TaskExecSchema, record: TaskRecord) -> int:
    left = record.extra.get("retry")
    return int(schema.retry or 0) if left is None else int(left)


def retry_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff: base * 2**attempt, capped, with +/- jitter fraction."""
    if base <= 0:
        return 0.0
    delay = min(cap, base * (2**attempt))
    return max(0.0, delay * (1 + random.uniform(-jitter, jitter)))


def retry_records(
    schema: TaskExecSchema, record: TaskRecord, exc: BaseException, delay: float
) -> tuple[TaskRecord, TaskRecord]:
    """The failed attempt (status `retry`) and the next attempt to enqueue."""
    left = retries_left(schema, record)
    now = time.time()
    child_uuid = str(uuid_mod.uuid4())
    child_extra = {k: v for k, v in record.extra.items() if k != "retry_child_uuid"}
    child_extra.update(retry=left - 1, retry_parent_uuid=record.uuid)
    child = dataclasses.replace(
        record,
        uuid=child_uuid,
        status="new",
        created_at=now,
        updated_at=now,
        returning=None,
        traceback=None,
        extra=child_extra,
        eta=now + delay if delay > 0 else None,
        attempts=0,
    )
    failed = dataclasses.replace(
        record,
        status="retry",
        traceback=format_exception(exc),
        updated_at=now,
        extra=dict(record.extra, retry=left, retry_child_uuid=child_uuid),
    )
    return failed, child


__all__ = [
    "failure",
    "format_exception",
    "retries_left",
    "retry_delay",
    "retry_records",
    "should_retry",
    "success",
]
