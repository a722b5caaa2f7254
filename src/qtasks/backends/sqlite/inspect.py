"""The SQLite backend's inspection (`core.ports.Inspection`): listing through indexes
on status, task name and creation time, counts, purge by queue or status, and the
paused queues (one row each, read by every worker's pause watch)."""

from __future__ import annotations

import sqlite3
import time

from qtasks.backends import rows
from qtasks.backends.sqlite.driver import write
from qtasks.core.inspection import TaskPage, TaskQuery, add_count, page_from
from qtasks.core.models import TaskRecord

# Each index ends with the table's key (uuid), so a page walks one index in order.
SCHEMA = """
CREATE INDEX IF NOT EXISTS qtasks_tasks_by_status ON qtasks_tasks (ns, status, created_at);
CREATE INDEX IF NOT EXISTS qtasks_tasks_by_name ON qtasks_tasks (ns, task_name, created_at);
CREATE INDEX IF NOT EXISTS qtasks_tasks_by_time ON qtasks_tasks (ns, created_at);
CREATE TABLE IF NOT EXISTS qtasks_paused (
    ns TEXT NOT NULL,
    queue TEXT NOT NULL,
    PRIMARY KEY (ns, queue)
) WITHOUT ROWID;
"""


def op_list_tasks(conn: sqlite3.Connection, ns: str, query: TaskQuery) -> TaskPage:
    """One page, newest first; rows that cannot be decoded are left out (a fetch
    dead-letters them)."""
    where, params = rows.listing(query, time.time())
    found = conn.execute(
        f"SELECT {rows.COLUMNS} FROM qtasks_tasks WHERE {where}", (ns, *params)
    ).fetchall()
    records = [r for r in map(rows.decoded, found) if isinstance(r, TaskRecord)]
    return page_from(records, query.limit)


def op_count_tasks(conn: sqlite3.Connection, ns: str) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for queue, status, n in conn.execute(
        "SELECT queue, status, count(*) FROM qtasks_tasks WHERE ns=? "
        "AND (expires_at IS NULL OR expires_at>?) GROUP BY queue, status",
        (ns, time.time()),
    ):
        add_count(counts, queue, status, n)
    return counts


def op_purge_tasks(conn: sqlite3.Connection, ns: str, queue: str | None, status: str | None) -> int:
    where, params = "ns=?", [ns]
    if queue is not None:
        where, params = where + " AND queue=?", [*params, queue]
    if status is not None:
        where, params = where + " AND status=?", [*params, status]

    def body(c: sqlite3.Connection) -> int:
        c.execute(
            "DELETE FROM qtasks_queue WHERE (ns, uuid) IN "
            f"(SELECT ns, uuid FROM qtasks_tasks WHERE {where})",
            params,
        )
        return int(c.execute(f"DELETE FROM qtasks_tasks WHERE {where}", params).rowcount)

    return write(conn, body)


def op_pause(conn: sqlite3.Connection, ns: str, queue: str, paused: bool) -> None:
    sql = (
        "INSERT OR IGNORE INTO qtasks_paused VALUES (?,?)"
        if paused
        else "DELETE FROM qtasks_paused WHERE ns=? AND queue=?"
    )
    write(conn, lambda c: c.execute(sql, (ns, queue)) and None)


def op_paused_queues(conn: sqlite3.Connection, ns: str) -> list[str]:
    found = conn.execute("SELECT queue FROM qtasks_paused WHERE ns=? ORDER BY queue", (ns,))
    return [row[0] for row in found]


__all__ = [
    "SCHEMA",
    "op_count_tasks",
    "op_list_tasks",
    "op_pause",
    "op_paused_queues",
    "op_purge_tasks",
]
