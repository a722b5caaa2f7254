"""A task as a table row, shared by the SQL backends (SQLite, PostgreSQL): the columns
in the order both select them, the row's record, and what keeps a row from being one.

```
  uuid, queue, task_name, priority, status, args, kwargs, created_at, updated_at,
  result, traceback, extra, eta, attempts
```

`args`, `kwargs`, `result` and `extra` hold JSON (`qtasks.core.codec`); the other
columns are plain values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from qtasks.core import codec
from qtasks.core.inspection import TaskQuery
from qtasks.core.models import TaskRecord

COLUMNS = (
    "uuid, queue, task_name, priority, status, args, kwargs, created_at, updated_at, "
    "result, traceback, extra, eta, attempts"
)
NAMES = tuple(c.strip() for c in COLUMNS.split(","))

# The JSON columns (index in the row), with the JSON type each must hold (None: any).
_JSON_COLUMNS = (("args", 5, list), ("kwargs", 6, dict), ("result", 9, None), ("extra", 11, dict))


def to_record(row: Sequence[Any]) -> TaskRecord:
    """The record of a row in `COLUMNS` order; ValueError or TypeError when a JSON
    column cannot be read."""
    return TaskRecord(
        uuid=row[0],
        queue=row[1],
        task_name=row[2],
        priority=row[3],
        status=row[4],
        args=codec.loads(row[5]),
        kwargs=codec.loads(row[6]),
        created_at=row[7],
        updated_at=row[8],
        returning=codec.loads(row[9]),
        traceback=row[10],
        extra=codec.loads(row[11]) or {},
        eta=row[12],
        attempts=row[13],
    )


def fault(row: Sequence[Any]) -> str:
    """What keeps a task row from being decoded (for its dead letter's reason)."""
    for name, i, kind in _JSON_COLUMNS:
        if row[i] is None and name in ("result", "extra"):
            continue
        try:
            value = codec.loads(row[i])
        except ValueError as exc:
            return f"its {name} column is not JSON ({exc})"
        if kind is not None and not isinstance(value, kind):
            return f"its {name} column is not a JSON {'array' if kind is list else 'object'}"
    return "its row does not make a task record"


def decoded(row: Sequence[Any]) -> TaskRecord | str:
    """The record of a task row, or what keeps it from being one."""
    try:
        record = to_record(row)
    except (ValueError, TypeError):
        return fault(row)
    if type(record.args) is list and type(record.kwargs) is dict and type(record.extra) is dict:
        return record
    return fault(row)


def raw(row: Sequence[Any]) -> str:
    """A stored row as it was: a JSON object of its columns, binary values as text."""
    values = [
        bytes(v).decode(errors="backslashreplace") if isinstance(v, bytes | memoryview) else v
        for v in row
    ]
    return codec.dumps(dict(zip(NAMES, values, strict=True))).decode()


def record_json(record: TaskRecord) -> bytes:
    """A record as a dead letter keeps it."""
    return codec.dumps(dataclasses.asdict(record), what="dead-lettered task record")


def record_from_json(blob: Any) -> TaskRecord:
    """`record_json` read back; ValueError or TypeError when it is not one."""
    return TaskRecord(**codec.loads(blob))


def result_json(record: TaskRecord) -> bytes | None:
    """The `result` column of a record (None when it has none)."""
    if record.returning is None:
        return None
    return codec.dumps(record.returning, what="task result")


def extra_json(record: TaskRecord) -> bytes | None:
    """The `extra` column of a record (None when empty)."""
    return codec.dumps(record.extra, what="task extra fields") if record.extra else None


def task_params(record: TaskRecord) -> tuple[Any, ...]:
    """A record's values in `COLUMNS` order, JSON columns encoded;
    `SerializationError` naming the value that cannot be."""
    r = record
    return (
        r.uuid,
        r.queue,
        r.task_name,
        r.priority,
        r.status,
        codec.dumps(r.args, what="task args"),
        codec.dumps(r.kwargs, what="task kwargs"),
        r.created_at,
        r.updated_at,
        result_json(r),
        r.traceback,
        extra_json(r),
        r.eta,
        r.attempts,
    )


def listing(query: TaskQuery, now: float, mark: str = "?") -> tuple[str, list[Any]]:
    """The WHERE ... ORDER BY ... LIMIT part (and its parameters, after `ns`) that
    lists one page of `query` from a task table with columns `ns`, `status`,
    `task_name`, `queue`, `created_at`, `uuid` and `expires_at`; `mark` is the driver's
    parameter mark. One row more than the page is asked for, to know whether another
    follows. Filters on the indexed columns come first, so the index of the most
    selective one (status, task name, else creation time) is walked in order."""
    where = ["ns=" + mark]
    params: list[Any] = []
    for column, value in (
        ("status", query.status),
        ("task_name", query.task_name),
        ("queue", query.queue),
    ):
        if value is not None:
            where.append(f"{column}={mark}")
            params.append(value)
    if query.since is not None:
        where.append(f"created_at>={mark}")
        params.append(query.since)
    if query.until is not None:
        where.append(f"created_at<{mark}")
        params.append(query.until)
    after = query.after
    if after is not None:
        where.append(f"(created_at, uuid) < ({mark}, {mark})")
        params += after
    where.append(f"(expires_at IS NULL OR expires_at>{mark})")
    params.append(now)
    sql = " AND ".join(where) + f" ORDER BY created_at DESC, uuid DESC LIMIT {mark}"
    params.append(query.limit + 1)
    return sql, params


__all__ = [
    "COLUMNS",
    "NAMES",
    "decoded",
    "extra_json",
    "fault",
    "listing",
    "raw",
    "record_from_json",
    "record_json",
    "result_json",
    "task_params",
    "to_record",
]
