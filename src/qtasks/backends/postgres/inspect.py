"""The PostgreSQL backend's inspection (`core.ports.Inspection`), written like `ops.py`
as generators of statements: listing through the indexes of migration 3 (status, task
name, creation time), counts, purge by queue or status, and the paused queues."""

from __future__ import annotations

import dataclasses
import time

from qtasks.backends import rows
from qtasks.backends.postgres.ops import Op, Q
from qtasks.backends.postgres.sql import Statements
from qtasks.core.inspection import TaskPage, TaskQuery, add_count, page_from
from qtasks.core.models import TaskRecord
from qtasks.core.status import TaskStatus

_STATUSES = [status.value for status in TaskStatus]


def list_tasks(s: Statements, ns: str, query: TaskQuery) -> Op[TaskPage]:
    """One page, newest first; rows that cannot be decoded are left out (a fetch
    dead-letters them). The indexes lead with status or task name, never with the
    namespace alone (a hot statement could take such an index for its namespace and
    walk it): without either filter, one page per status is read and merged."""
    now = time.time()
    if query.status is not None or query.task_name is not None:
        where, params = rows.listing(query, now, "%s")
        sql = f"SELECT {rows.COLUMNS} FROM {s.schema}.tasks WHERE {where}"
        found = yield Q(sql, (ns, *params))
    else:
        parts, params = [], []
        for status in _STATUSES:
            where, more = rows.listing(dataclasses.replace(query, status=status), now, "%s")
            parts.append(f"(SELECT {rows.COLUMNS} FROM {s.schema}.tasks WHERE {where})")
            params += [ns, *more]
        sql = " UNION ALL ".join(parts) + " ORDER BY created_at DESC, uuid DESC LIMIT %s"
        found = yield Q(sql, (*params, query.limit + 1))
    records = [r for r in map(rows.decoded, found) if isinstance(r, TaskRecord)]
    return page_from(records, query.limit)


def count_tasks(s: Statements, ns: str) -> Op[dict[str, dict[str, int]]]:
    found = yield Q(
        f"SELECT queue, status, count(*) FROM {s.schema}.tasks WHERE ns=%s"
        " AND (expires_at IS NULL OR expires_at > %s) GROUP BY queue, status",
        (ns, time.time()),
    )
    counts: dict[str, dict[str, int]] = {}
    for queue, status, n in found:
        add_count(counts, queue, status, int(n))
    return counts


def purge_tasks(s: Statements, ns: str, queue: str | None, status: str | None) -> Op[int]:
    """A row is its task's record and queue entry at once: deleting it ends both, and a
    worker holding its lease finds nothing to complete."""
    count = yield Q(
        f"DELETE FROM {s.schema}.tasks WHERE ns=%s AND (%s::text IS NULL OR queue=%s)"
        " AND (%s::text IS NULL OR status=%s)",
        (ns, queue, queue, status, status),
    )
    return int(count)


def pause(s: Statements, ns: str, queue: str, paused: bool) -> Op[None]:
    if paused:
        yield Q(
            f"INSERT INTO {s.schema}.paused (ns, queue) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (ns, queue),
        )
    else:
        yield Q(f"DELETE FROM {s.schema}.paused WHERE ns=%s AND queue=%s", (ns, queue))


def paused_queues(s: Statements, ns: str) -> Op[list[str]]:
    found = yield Q(f"SELECT queue FROM {s.schema}.paused WHERE ns=%s ORDER BY queue", (ns,))
    return [row[0] for row in found]


__all__ = ["count_tasks", "list_tasks", "pause", "paused_queues", "purge_tasks"]
