"""The SQLite backend's dead letters: one table, `qtasks_dead`, one row per task taken
out of delivery, and the operations over it (plain functions over a connection, like
`ops.py`).

A row keeps a copy of the task's record as JSON (so a dead letter can be requeued after
its record expired), or, for a stored task that could not be decoded, no record and the
stored row as it was (`raw`: a JSON object of its columns' text).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from qtasks.backends import rows
from qtasks.backends.base import requeued, undecodable
from qtasks.backends.sqlite.driver import write
from qtasks.core.models import DeadLetter, TaskRecord
from qtasks.core.status import SETTLED_STATUSES

SCHEMA = """
CREATE TABLE IF NOT EXISTS qtasks_dead (
    ns TEXT NOT NULL,
    uuid TEXT NOT NULL,
    queue TEXT NOT NULL,
    reason TEXT NOT NULL,
    dead_at REAL NOT NULL,
    record BLOB,
    raw TEXT,
    PRIMARY KEY (ns, uuid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS qtasks_dead_order ON qtasks_dead (ns, dead_at);
"""

_INSERT = "INSERT OR REPLACE INTO qtasks_dead VALUES (?,?,?,?,?,?,?)"
# Parameters per statement stay well under SQLite's limit (999 on old builds).
_CHUNK = 500


def undecodable_row(
    ns: str, row: Sequence[Any], why: str, now: float
) -> tuple[tuple[Any, ...], TaskRecord]:
    """For a task row that cannot be decoded (`why`): its dead letter's `_INSERT`
    parameters, keeping the row as it was, and the `error` record to store instead."""
    letter, record = undecodable(
        row[0], row[1], why, rows.raw(row), now,
        task_name=row[2], priority=row[3] if isinstance(row[3], int) else 0,
        created_at=row[7] if isinstance(row[7], (int, float)) else now,
    )  # fmt: skip
    return params(ns, letter, None), record


def kept(ns: str, record: TaskRecord, reason: str, now: float) -> tuple[Any, ...]:
    """`_INSERT`'s parameters for a task dead-lettered with its record."""
    return (ns, record.uuid, record.queue, reason, now, rows.record_json(record), None)


def params(ns: str, letter: DeadLetter, record_blob: bytes | None) -> tuple[Any, ...]:
    """`_INSERT`'s parameters for `letter` (its record already encoded by `rows.record_json`)."""
    return (ns, letter.uuid, letter.queue, letter.reason, letter.dead_at, record_blob, letter.raw)


def insert(c: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Add (or replace, by uuid) dead letters; the caller's transaction is open."""
    c.executemany(_INSERT, rows)


def _letter(row: Sequence[Any]) -> DeadLetter:
    uuid, queue, reason, dead_at, blob, raw = row
    record = None
    if blob is not None:
        try:
            record = rows.record_from_json(blob)
        except (ValueError, TypeError):  # written by something else: show it as it is
            raw = raw or (blob.decode(errors="replace") if isinstance(blob, bytes) else str(blob))
    return DeadLetter(uuid, queue, reason, dead_at, record=record, raw=raw)


def op_dead_letters(conn: sqlite3.Connection, ns: str, limit: int, offset: int) -> list[DeadLetter]:
    rows = conn.execute(
        "SELECT uuid, queue, reason, dead_at, record, raw FROM qtasks_dead WHERE ns=? "
        "ORDER BY dead_at DESC, uuid LIMIT ? OFFSET ?",
        (ns, limit, offset),
    ).fetchall()
    return [_letter(row) for row in rows]


def _select(c: sqlite3.Connection, ns: str, uuids: Sequence[str] | None) -> list[Any]:
    query = "SELECT uuid, queue, reason, dead_at, record, raw FROM qtasks_dead WHERE ns=?"
    if uuids is None:
        return c.execute(query, (ns,)).fetchall()
    rows = []
    for i in range(0, len(uuids), _CHUNK):
        chunk = uuids[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows += c.execute(f"{query} AND uuid IN ({marks})", (ns, *chunk)).fetchall()
    return rows


def requeue(
    conn: sqlite3.Connection,
    ns: str,
    uuids: Sequence[str] | None,
    queue_again: Callable[[sqlite3.Connection, TaskRecord], None],
) -> int:
    """Queue dead letters again (those with a record): `queue_again` (from `ops`) stores
    the record made new by `requeued` in place of the stored one and queues it. Returns
    how many were queued."""
    now = time.time()

    def body(c: sqlite3.Connection) -> int:
        count = 0
        for row in _select(c, ns, None if uuids is None else list(dict.fromkeys(uuids))):
            letter = _letter(row)
            if letter.record is None:
                continue  # nothing to run: stays listed until purged
            c.execute("DELETE FROM qtasks_dead WHERE ns=? AND uuid=?", (ns, letter.uuid))
            live = c.execute(
                "SELECT status FROM qtasks_tasks WHERE ns=? AND uuid=? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (ns, letter.uuid, now),
            ).fetchone()
            if live is not None and live[0] not in SETTLED_STATUSES:
                continue  # queued or running again already
            queue_again(c, requeued(letter.record, now))
            count += 1
        return count

    return write(conn, body)


def op_purge_dead_letters(conn: sqlite3.Connection, ns: str, uuids: Sequence[str] | None) -> int:
    def body(c: sqlite3.Connection) -> int:
        if uuids is None:
            return int(c.execute("DELETE FROM qtasks_dead WHERE ns=?", (ns,)).rowcount)
        unique = list(dict.fromkeys(uuids))
        count = 0
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            count += c.execute(
                f"DELETE FROM qtasks_dead WHERE ns=? AND uuid IN ({marks})", (ns, *chunk)
            ).rowcount
        return count

    return write(conn, body)


def expire(conn: sqlite3.Connection, ns: str, before: float) -> None:
    """Forget the dead letters of `ns` dead-lettered before `before` (epoch seconds)."""
    write(
        conn,
        lambda c: (
            c.execute("DELETE FROM qtasks_dead WHERE ns=? AND dead_at<?", (ns, before)) and None
        ),
    )


__all__ = [
    "SCHEMA",
    "insert",
    "kept",
    "op_dead_letters",
    "op_purge_dead_letters",
    "params",
    "requeue",
    "undecodable_row",
]
