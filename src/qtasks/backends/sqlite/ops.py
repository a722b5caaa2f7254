"""The SQLite backend's schema and operations: plain functions over a `sqlite3`
connection, written once and run by the driver for sync and async callers alike.

Two tables: `qtasks_tasks` (one row per task: arguments, status, result, expiry) and
`qtasks_queue` (one row per queued or leased task: priority, sequence, due time, lease
deadline and token); the dead letters are in `dead_letters.py`. Writes run in one
`BEGIN IMMEDIATE` transaction each.

Fencing: a fetch writes a new token on the entries it leases, and `complete`, `ack`,
`extend` and `release` match the entry by that token. An expired lease keeps its token
until another fetch takes the entry, so it stays its holder's until then.
"""

from __future__ import annotations

import sqlite3
import time
import uuid as uuid_mod
from collections.abc import Sequence
from typing import Any

from qtasks.backends import rows
from qtasks.backends.sqlite import coordination, dead_letters, inspect
from qtasks.backends.sqlite.driver import reclaim_space, write
from qtasks.core import codec as serialization
from qtasks.core.models import Completion, Delivery, TaskRecord
from qtasks.core.status import CANCEL, NEW, PROCESS, SETTLED_STATUSES
from qtasks.exc import SerializationError

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS qtasks_tasks (
    ns TEXT NOT NULL,
    uuid TEXT NOT NULL,
    queue TEXT NOT NULL,
    task_name TEXT NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    args BLOB NOT NULL,
    kwargs BLOB NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    result BLOB,
    traceback TEXT,
    extra BLOB,
    eta REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires_at REAL,
    PRIMARY KEY (ns, uuid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS qtasks_tasks_expiry ON qtasks_tasks (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS qtasks_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ns TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL,
    uuid TEXT NOT NULL,
    due REAL NOT NULL,
    lease_until REAL,
    token TEXT
);
CREATE INDEX IF NOT EXISTS qtasks_queue_order ON qtasks_queue (ns, queue, priority, seq);
CREATE INDEX IF NOT EXISTS qtasks_queue_uuid ON qtasks_queue (ns, uuid);
CREATE TABLE IF NOT EXISTS qtasks_workers (
    ns TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    info BLOB NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (ns, worker_id)
) WITHOUT ROWID;
"""
    + dead_letters.SCHEMA
    + inspect.SCHEMA
    + coordination.SCHEMA
)

_COLUMNS = rows.COLUMNS


def _task_params(ns: str, r: TaskRecord, expires_at: float | None) -> tuple[Any, ...]:
    return (ns, *rows.task_params(r), expires_at)


_UPSERT_TASK = (
    "INSERT OR REPLACE INTO qtasks_tasks (ns, " + _COLUMNS + ", expires_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
# Enqueueing: a plain INSERT, which fails on a known uuid; then, record by record, an
# insert that replaces a known row only if it has expired (the last parameter is now).
_INSERT_TASK = (
    "INSERT INTO qtasks_tasks (ns, " + _COLUMNS + ", expires_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_UNLESS_KNOWN = (
    _INSERT_TASK
    + " ON CONFLICT (ns, uuid) DO UPDATE SET "
    + ", ".join(f"{c.strip()}=excluded.{c.strip()}" for c in _COLUMNS.split(",")[1:])
    + ", expires_at=NULL WHERE qtasks_tasks.expires_at IS NOT NULL"
    " AND qtasks_tasks.expires_at <= ?"
)
_INSERT_QUEUE = "INSERT INTO qtasks_queue (ns, queue, priority, uuid, due) VALUES (?,?,?,?,?)"


def _queue_params(ns: str, r: TaskRecord) -> tuple[Any, ...]:
    return (ns, r.queue, r.priority, r.uuid, r.eta or 0.0)


# --- operations: plain functions over a connection ---------------------------------------


def _insert(c: sqlite3.Connection, tasks: list[tuple[Any, ...]], queue: list[Any]) -> None:
    """Store and queue records, all new: a known uuid raises IntegrityError (the caller
    then rolls back and uses `_insert_unknown`)."""
    c.executemany(_INSERT_TASK, tasks)
    c.executemany(_INSERT_QUEUE, queue)


def _insert_unknown(
    c: sqlite3.Connection, tasks: list[tuple[Any, ...]], queue: list[Any], now: float
) -> None:
    """Store and queue, record by record, those whose uuid is not known yet."""
    for task, entry in zip(tasks, queue, strict=True):
        if c.execute(_INSERT_UNLESS_KNOWN, (*task, now)).rowcount:
            c.execute(_INSERT_QUEUE, entry)


def op_enqueue(conn: sqlite3.Connection, ns: str, records: Sequence[TaskRecord]) -> None:
    """Idempotent by uuid. The common case, every record new, costs a plain insert; a
    known uuid among them rolls that back and inserts the others one by one."""
    # Encode before the transaction so a bad argument fails without touching the file.
    tasks = [_task_params(ns, r, None) for r in records]
    queue = [_queue_params(ns, r) for r in records]
    if not tasks:
        return
    try:
        write(conn, lambda c: _insert(c, tasks, queue))
    except sqlite3.IntegrityError:
        now = time.time()
        write(conn, lambda c: _insert_unknown(c, tasks, queue, now))


def op_put(conn: sqlite3.Connection, ns: str, records: Sequence[TaskRecord], ttl: float) -> None:
    """Store (insert or replace) records without queueing them; settled ones expire."""
    expires = time.time() + ttl
    tasks = [
        _task_params(ns, r, expires if r.status in SETTLED_STATUSES else None) for r in records
    ]
    write(conn, lambda c: c.executemany(_UPSERT_TASK, tasks) and None)


def op_get(conn: sqlite3.Connection, ns: str, uuid: str) -> TaskRecord | None:
    """The stored record; `SerializationError` naming the fault for a row that cannot be
    decoded (a fetch dead-letters such a row)."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM qtasks_tasks WHERE ns=? AND uuid=? "
        "AND (expires_at IS NULL OR expires_at > ?)",
        (ns, uuid, time.time()),
    ).fetchone()
    if not row:
        return None
    got = _decoded(row)
    if isinstance(got, str):
        raise SerializationError(f"The stored task {uuid} cannot be decoded: {got}")
    return got


_decoded = rows.decoded


def _dead_letter_undecodable(
    c: sqlite3.Connection, ns: str, seq: int, row: Sequence[Any], fault: str, now: float, ttl: float
) -> None:
    """Take an undecodable task out of its queue: its dead letter keeps the row, its
    record becomes `error` naming the fault. The caller's transaction is open."""
    letter, record = dead_letters.undecodable_row(ns, row, fault, now)
    c.execute("DELETE FROM qtasks_queue WHERE seq=?", (seq,))
    c.execute(_UPSERT_TASK, _task_params(ns, record, now + ttl))
    dead_letters.insert(c, [letter])


def op_fetch(
    conn: sqlite3.Connection,
    ns: str,
    queue: str,
    limit: int,
    lease: float,
    worker_id: str,
    ttl: float,
) -> list[Delivery]:
    """Lease up to `limit` due tasks. Every leased row is decoded inside the transaction:
    one that cannot be is dead-lettered (`ttl`: its `error` record's time to live) and
    the fetch picks again in its place, so a bad row never blocks its queue.

    The clock is read once the write lock is held: BEGIN IMMEDIATE may wait for another
    writer (up to the busy timeout), and a lease counted from before that wait could
    end before the worker even got its tasks."""
    token = f"{worker_id}:{uuid_mod.uuid4().hex[:12]}"
    now = 0.0  # set in `body`, under the write lock

    def pick(c: sqlite3.Connection, want: int) -> tuple[list[Delivery], int]:
        """(deliveries, rows picked) of one pass."""
        # A lease that expired makes the entry due again: that is the crash recovery.
        picked = c.execute(
            "UPDATE qtasks_queue SET lease_until=?, token=? WHERE seq IN ("
            " SELECT seq FROM qtasks_queue WHERE ns=? AND queue=?"
            " AND ((lease_until IS NULL AND due<=?) OR lease_until<?)"
            " ORDER BY priority, seq LIMIT ?) RETURNING seq, uuid",
            (now + lease, token, ns, queue, now, now, want),
        ).fetchall()
        if not picked:
            return [], 0
        order = {uuid: seq for seq, uuid in picked}
        marks = ",".join("?" * len(order))
        rows = c.execute(
            f"UPDATE qtasks_tasks SET status='{PROCESS}', updated_at=?, attempts=attempts+1 "
            f"WHERE ns=? AND uuid IN ({marks}) RETURNING {_COLUMNS}",
            (now, ns, *order),
        ).fetchall()
        found = {row[0] for row in rows}
        lost = [u for u in order if u not in found]
        if lost:  # queue entries whose record vanished (purged, expired): drop them
            c.executemany("DELETE FROM qtasks_queue WHERE ns=? AND uuid=?", [(ns, u) for u in lost])
        records = []
        for row in rows:
            got = _decoded(row)
            if isinstance(got, str):
                _dead_letter_undecodable(c, ns, order[row[0]], row, got, now, ttl)
            else:
                records.append(got)
        records.sort(key=lambda r: (r.priority, order[r.uuid]))
        return [Delivery(r, token) for r in records], len(picked)

    def body(c: sqlite3.Connection) -> list[Delivery]:
        nonlocal now
        now = time.time()
        out: list[Delivery] = []
        while len(out) < limit:
            got, picked = pick(c, limit - len(out))
            out += got
            if len(got) == picked:  # nothing dropped: the queue has no more due now
                break
        return out

    return write(conn, body)


def op_complete(
    conn: sqlite3.Connection, ns: str, completions: Sequence[Completion], ttl: float
) -> None:
    """For each completion whose token still holds its queue entry (fencing: else it
    changes nothing): remove the entry, store the final record, dead-letter it when the
    completion says so, and queue its follow-ups; all in one transaction."""
    now = time.time()
    # Encode everything before the transaction: bad input touches nothing.
    prepared = [
        (
            x,
            _task_params(ns, x.record, now + ttl),
            [(_task_params(ns, f, None), _queue_params(ns, f)) for f in x.followups],
            None if x.dead_letter is None else dead_letters.kept(ns, x.record, x.dead_letter, now),
        )
        for x in completions
    ]

    def body(c: sqlite3.Connection, all_new: bool = True) -> None:
        tasks, letters, follow_tasks, follow_queue = [], [], [], []
        for x, task, followups, letter in prepared:
            held = c.execute(
                "DELETE FROM qtasks_queue WHERE ns=? AND uuid=? AND token=?",
                (ns, x.record.uuid, x.delivery.token),
            ).rowcount
            if not held:
                continue  # leased again since, to someone else: theirs to finish
            tasks.append(task)
            if letter is not None:
                letters.append(letter)
            for follow_task, follow_entry in followups:
                follow_tasks.append(follow_task)
                follow_queue.append(follow_entry)
        c.executemany(_UPSERT_TASK, tasks)
        if letters:
            dead_letters.insert(c, letters)
        if follow_tasks:
            if all_new:
                _insert(c, follow_tasks, follow_queue)
            else:
                _insert_unknown(c, follow_tasks, follow_queue, now)

    try:
        write(conn, body)
    except sqlite3.IntegrityError:  # a follow-up's uuid is known already
        write(conn, lambda c: body(c, all_new=False))


def op_ack(conn: sqlite3.Connection, ns: str, deliveries: Sequence[Delivery]) -> None:
    """Remove the queue entries their tokens still hold; records stay as they are."""
    write(
        conn,
        lambda c: (
            c.executemany(
                "DELETE FROM qtasks_queue WHERE ns=? AND uuid=? AND token=?",
                [(ns, d.record.uuid, d.token) for d in deliveries],
            )
            and None
        ),
    )


def op_extend(
    conn: sqlite3.Connection, ns: str, deliveries: Sequence[Delivery], lease: float
) -> None:
    # The new deadline is counted once the write lock is held (see `op_fetch`).
    write(
        conn,
        lambda c: (
            c.executemany(
                "UPDATE qtasks_queue SET lease_until=? WHERE ns=? AND uuid=? AND token=?",
                [(time.time() + lease, ns, d.record.uuid, d.token) for d in deliveries],
            )
            and None
        ),
    )


def op_release(conn: sqlite3.Connection, ns: str, deliveries: Sequence[Delivery]) -> None:
    """Give back the entries their tokens still hold, undoing their delivery count."""
    now = time.time()

    def body(c: sqlite3.Connection) -> None:
        for d in deliveries:
            moved = c.execute(
                "UPDATE qtasks_queue SET lease_until=NULL, token=NULL "
                "WHERE ns=? AND uuid=? AND token=?",
                (ns, d.record.uuid, d.token),
            ).rowcount
            if moved:
                c.execute(
                    "UPDATE qtasks_tasks SET status=?, updated_at=?, "
                    "attempts=MAX(attempts-1, 0) WHERE ns=? AND uuid=?",
                    (NEW, now, ns, d.record.uuid),
                )

    write(conn, body)


def op_cancel(
    conn: sqlite3.Connection, ns: str, uuid: str, reason: str, ttl: float
) -> TaskRecord | None:
    now = time.time()

    def body(c: sqlite3.Connection) -> TaskRecord | None:
        record = op_get(c, ns, uuid)
        if record is None or record.status in SETTLED_STATUSES:
            return None
        gone = c.execute(
            "DELETE FROM qtasks_queue WHERE ns=? AND uuid=? AND lease_until IS NULL",
            (ns, uuid),
        ).rowcount
        if not gone:  # running: leave a request for its worker
            record.extra["cancel_requested"] = reason
            c.execute(
                "UPDATE qtasks_tasks SET extra=? WHERE ns=? AND uuid=?",
                (serialization.dumps(record.extra), ns, uuid),
            )
            return record
        record.status = CANCEL
        record.updated_at = now
        record.extra["cancel_reason"] = reason
        c.execute(_UPSERT_TASK, _task_params(ns, record, now + ttl))
        return record

    return write(conn, body)


def op_cancel_requests(conn: sqlite3.Connection, ns: str, uuids: Sequence[str]) -> dict[str, str]:
    marks = ",".join("?" * len(uuids))
    rows = conn.execute(
        f"SELECT uuid, extra FROM qtasks_tasks WHERE ns=? AND uuid IN ({marks}) "
        "AND extra IS NOT NULL",
        (ns, *uuids),
    ).fetchall()
    out = {}
    for uuid, extra in rows:
        reason = serialization.loads(extra).get("cancel_requested")
        if reason is not None:
            out[uuid] = str(reason)
    return out


#: Expired records deleted per write transaction (short, so other writers get in between),
#: and how long one upkeep call works before leaving the rest to the next one.
_EXPIRE_BATCH = 2000
UPKEEP_BUDGET = 0.5


def op_maintain(
    conn: sqlite3.Connection,
    ns: str,
    budget: float = UPKEEP_BUDGET,
    dead_ttl: float | None = None,
) -> None:
    """Delete expired records and worker registrations, and the dead letters of `ns`
    older than `dead_ttl` seconds, then give the space back (`driver.reclaim_space`);
    stops after about `budget` seconds (the next call goes on)."""
    now = time.time()
    deadline = time.monotonic() + budget

    def expire_some(c: sqlite3.Connection) -> int:
        return c.execute(
            "DELETE FROM qtasks_tasks WHERE (ns, uuid) IN (SELECT ns, uuid FROM qtasks_tasks"
            " WHERE expires_at IS NOT NULL AND expires_at<? LIMIT ?)",
            (now, _EXPIRE_BATCH),
        ).rowcount

    write(
        conn, lambda c: c.execute("DELETE FROM qtasks_workers WHERE expires_at<?", (now,)) and None
    )
    if dead_ttl is not None:
        dead_letters.expire(conn, ns, now - dead_ttl)
    while write(conn, expire_some) == _EXPIRE_BATCH and time.monotonic() < deadline:
        pass
    reclaim_space(conn, deadline)


def op_purge(conn: sqlite3.Connection, ns: str) -> None:
    def body(c: sqlite3.Connection) -> None:
        tables = ("qtasks_queue", "qtasks_tasks", "qtasks_workers", "qtasks_dead", "qtasks_paused")
        for table in tables:
            c.execute(f"DELETE FROM {table} WHERE ns=?", (ns,))

    write(conn, body)


def op_stats(conn: sqlite3.Connection, ns: str, queue: str) -> dict[str, int]:
    now = time.time()
    queued, leased = conn.execute(
        "SELECT COALESCE(SUM(lease_until IS NULL OR lease_until<?), 0),"
        " COALESCE(SUM(lease_until>=?), 0) FROM qtasks_queue WHERE ns=? AND queue=?",
        (now, now, ns, queue),
    ).fetchone()
    return {"queued": int(queued), "leased": int(leased)}


# --- dead letters (`dead_letters.py`) -----------------------------------------------------
op_dead_letters = dead_letters.op_dead_letters
op_purge_dead_letters = dead_letters.op_purge_dead_letters


def _queue_again(c: sqlite3.Connection, ns: str, record: TaskRecord) -> None:
    c.execute(_UPSERT_TASK, _task_params(ns, record, None))
    c.execute(_INSERT_QUEUE, _queue_params(ns, record))


def op_requeue_dead_letters(conn: sqlite3.Connection, ns: str, uuids: Sequence[str] | None) -> int:
    return dead_letters.requeue(conn, ns, uuids, lambda c, r: _queue_again(c, ns, r))
