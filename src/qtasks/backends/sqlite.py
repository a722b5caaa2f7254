"""`sqlite:///path`: the embedded default backend, a file shared by the processes of
one machine. No server.

Every operation is one function over a `sqlite3.Connection`, written once. The sync
client runs it directly; async callers run it on one dedicated thread per backend
(SQLite serialises writers anyway), so the event loop never blocks on the file.
Waiting polls adaptively (1 ms growing to 50 ms), and in-process waiters are woken at
once through a `Signal`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import uuid as uuid_mod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from qtasks.backends.base import Backend, Completion, Delivery, TaskRecord
from qtasks.backends.signals import LOAD, Pause, Signal, WaitSteps, run_wait, run_wait_sync
from qtasks.core import codec as serialization
from qtasks.exc import ConfigError

T = TypeVar("T")

_SCHEMA = """
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

_COLUMNS = (
    "uuid, queue, task_name, priority, status, args, kwargs, created_at, updated_at, "
    "result, traceback, extra, eta, attempts"
)

# In-process wake-ups, per database file, shared by every backend object on it.
_SIGNALS: dict[str, tuple[Signal, Signal]] = {}
_SIGNALS_LOCK = threading.Lock()


def _signals_for(path: str) -> tuple[Signal, Signal]:
    with _SIGNALS_LOCK:
        return _SIGNALS.setdefault(path, (Signal(), Signal()))


def path_from_url(url: str) -> str:
    """`sqlite:///rel.db` -> `rel.db`; `sqlite:////abs.db` -> `/abs.db`."""
    rest = url.split("://", 1)[1]
    if rest.startswith("/"):
        rest = rest[1:]
    if not rest:
        raise ConfigError(f"SQLite URL needs a file path: {url!r} (e.g. sqlite:///qtasks.db)")
    if rest == ":memory:":
        raise ConfigError("sqlite:///:memory: cannot be shared by workers; use memory://")
    return os.path.abspath(rest)


def _set_up(conn: sqlite3.Connection, deadline: float) -> None:
    """WAL mode and the schema. When several processes or threads open a new file at
    once, switching it to WAL can fail with "database is locked" at once, without
    SQLite's busy handler waiting: that is retried here until `deadline` (every step is
    idempotent)."""
    conn.execute("PRAGMA busy_timeout=30000")
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


class _Db:
    """One connection (per process), guarded by a lock. `busy_ms` is how long a statement
    waits for another process's write lock before failing."""

    def __init__(self, path: str, busy_ms: int = 30_000) -> None:
        self.path = path
        self.busy_ms = busy_ms
        self.lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def conn(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            try:
                _set_up(conn, deadline=time.monotonic() + max(self.busy_ms, 30_000) / 1000)
            except BaseException:
                conn.close()
                raise
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_ms)}")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def run(self, op: Callable[..., T], *args: Any) -> T:
        with self.lock:
            return op(self.conn(), *args)

    def try_run(self, op: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        """Run `op` now if nothing has to wait: neither this connection's lock (another
        thread) nor the database's write lock (another process). (False, None) when it
        would have to wait; the op then has changed nothing."""
        if not self.lock.acquire(blocking=False):
            return False, None
        try:
            return True, op(self.conn(), *args)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                return False, None
            raise
        finally:
            self.lock.release()

    def close(self) -> None:
        with self.lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def op_data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits (any process): a cheap change probe."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _write(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
    """Run `body` in one write transaction (BEGIN IMMEDIATE avoids upgrade deadlocks).
    When BEGIN fails (busy), nothing was started and nothing needs rolling back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = body(conn)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _row_to_record(row: Sequence[Any]) -> TaskRecord:
    return TaskRecord(
        uuid=row[0],
        queue=row[1],
        task_name=row[2],
        priority=row[3],
        status=row[4],
        args=serialization.loads(row[5]),
        kwargs=serialization.loads(row[6]),
        created_at=row[7],
        updated_at=row[8],
        returning=serialization.loads(row[9]),
        traceback=row[10],
        extra=serialization.loads(row[11]) or {},
        eta=row[12],
        attempts=row[13],
    )


def _task_params(ns: str, r: TaskRecord, expires_at: float | None) -> tuple[Any, ...]:
    return (
        ns,
        r.uuid,
        r.queue,
        r.task_name,
        r.priority,
        r.status,
        serialization.dumps(r.args, what="task args"),
        serialization.dumps(r.kwargs, what="task kwargs"),
        r.created_at,
        r.updated_at,
        serialization.dumps(r.returning, what="task result") if r.returning is not None else None,
        r.traceback,
        serialization.dumps(r.extra, what="task extra fields") if r.extra else None,
        r.eta,
        r.attempts,
        expires_at,
    )


_UPSERT_TASK = (
    "INSERT OR REPLACE INTO qtasks_tasks (ns, " + _COLUMNS + ", expires_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_QUEUE = "INSERT INTO qtasks_queue (ns, queue, priority, uuid, due) VALUES (?,?,?,?,?)"


def _queue_params(ns: str, r: TaskRecord) -> tuple[Any, ...]:
    return (ns, r.queue, r.priority, r.uuid, r.eta or 0.0)


# --- operations: plain functions over a connection ---------------------------------------


def op_enqueue(conn: sqlite3.Connection, ns: str, records: Sequence[TaskRecord]) -> None:
    # Encode before the transaction so a bad argument fails without touching the file.
    tasks = [_task_params(ns, r, None) for r in records]
    queue = [_queue_params(ns, r) for r in records]

    def body(c: sqlite3.Connection) -> None:
        c.executemany(_UPSERT_TASK, tasks)
        c.executemany(_INSERT_QUEUE, queue)

    _write(conn, body)


def op_get(conn: sqlite3.Connection, ns: str, uuid: str) -> TaskRecord | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM qtasks_tasks WHERE ns=? AND uuid=? "
        "AND (expires_at IS NULL OR expires_at > ?)",
        (ns, uuid, time.time()),
    ).fetchone()
    return _row_to_record(row) if row else None


def op_fetch(
    conn: sqlite3.Connection, ns: str, queue: str, limit: int, lease: float, worker_id: str
) -> list[Delivery]:
    now = time.time()
    token = f"{worker_id}:{uuid_mod.uuid4().hex[:12]}"

    def body(c: sqlite3.Connection) -> list[Delivery]:
        # A lease that expired makes the entry due again: that is the crash recovery.
        picked = c.execute(
            "UPDATE qtasks_queue SET lease_until=?, token=? WHERE seq IN ("
            " SELECT seq FROM qtasks_queue WHERE ns=? AND queue=?"
            " AND ((lease_until IS NULL AND due<=?) OR lease_until<?)"
            " ORDER BY priority, seq LIMIT ?) RETURNING seq, uuid",
            (now + lease, token, ns, queue, now, now, limit),
        ).fetchall()
        if not picked:
            return []
        order = {uuid: seq for seq, uuid in picked}
        marks = ",".join("?" * len(order))
        rows = c.execute(
            f"UPDATE qtasks_tasks SET status='process', updated_at=?, attempts=attempts+1 "
            f"WHERE ns=? AND uuid IN ({marks}) RETURNING {_COLUMNS}",
            (now, ns, *order),
        ).fetchall()
        found = {row[0] for row in rows}
        lost = [u for u in order if u not in found]
        if lost:  # queue entries whose record vanished (purged, expired): drop them
            c.executemany("DELETE FROM qtasks_queue WHERE ns=? AND uuid=?", [(ns, u) for u in lost])
        records = sorted(
            (_row_to_record(r) for r in rows), key=lambda r: (r.priority, order[r.uuid])
        )
        return [Delivery(r, token) for r in records]

    return _write(conn, body)


def op_complete(
    conn: sqlite3.Connection, ns: str, completions: Sequence[Completion], ttl: float
) -> None:
    now = time.time()
    tasks = [_task_params(ns, c.record, now + ttl) for c in completions]
    followups = [f for c in completions for f in c.followups]
    follow_tasks = [_task_params(ns, f, None) for f in followups]

    def body(c: sqlite3.Connection) -> None:
        c.executemany(
            "DELETE FROM qtasks_queue WHERE ns=? AND uuid=? "
            "AND (token=? OR lease_until IS NULL OR lease_until<?)",
            [(ns, x.record.uuid, x.delivery.token, now) for x in completions],
        )
        c.executemany(_UPSERT_TASK, tasks)
        if followups:
            c.executemany(_UPSERT_TASK, follow_tasks)
            c.executemany(_INSERT_QUEUE, [_queue_params(ns, f) for f in followups])

    _write(conn, body)


def op_extend(
    conn: sqlite3.Connection, ns: str, deliveries: Sequence[Delivery], lease: float
) -> None:
    until = time.time() + lease
    _write(
        conn,
        lambda c: (
            c.executemany(
                "UPDATE qtasks_queue SET lease_until=? WHERE ns=? AND uuid=? AND token=?",
                [(until, ns, d.record.uuid, d.token) for d in deliveries],
            )
            and None
        ),
    )


def op_release(conn: sqlite3.Connection, ns: str, deliveries: Sequence[Delivery]) -> None:
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
                    "UPDATE qtasks_tasks SET status='new', updated_at=? WHERE ns=? AND uuid=?",
                    (now, ns, d.record.uuid),
                )

    _write(conn, body)


def op_cancel(
    conn: sqlite3.Connection, ns: str, uuid: str, reason: str, ttl: float
) -> TaskRecord | None:
    now = time.time()

    def body(c: sqlite3.Connection) -> TaskRecord | None:
        record = op_get(c, ns, uuid)
        if record is None or record.is_final or record.status == "retry":
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
        record.status = "cancel"
        record.updated_at = now
        record.extra["cancel_reason"] = reason
        c.execute(_UPSERT_TASK, _task_params(ns, record, now + ttl))
        return record

    return _write(conn, body)


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


def op_maintain(conn: sqlite3.Connection, ns: str) -> None:
    now = time.time()

    def body(c: sqlite3.Connection) -> None:
        c.execute("DELETE FROM qtasks_tasks WHERE expires_at IS NOT NULL AND expires_at<?", (now,))
        c.execute("DELETE FROM qtasks_workers WHERE expires_at<?", (now,))

    _write(conn, body)


def op_purge(conn: sqlite3.Connection, ns: str) -> None:
    def body(c: sqlite3.Connection) -> None:
        for table in ("qtasks_queue", "qtasks_tasks", "qtasks_workers"):
            c.execute(f"DELETE FROM {table} WHERE ns=?", (ns,))

    _write(conn, body)


def op_stats(conn: sqlite3.Connection, ns: str, queue: str) -> dict[str, int]:
    now = time.time()
    queued, leased = conn.execute(
        "SELECT COALESCE(SUM(lease_until IS NULL OR lease_until<?), 0),"
        " COALESCE(SUM(lease_until>=?), 0) FROM qtasks_queue WHERE ns=? AND queue=?",
        (now, now, ns, queue),
    ).fetchone()
    return {"queued": int(queued), "leased": int(leased)}


def op_register_worker(
    conn: sqlite3.Connection, ns: str, worker_id: str, info: dict[str, Any], ttl: float
) -> None:
    blob = serialization.dumps(info)
    _write(
        conn,
        lambda c: (
            c.execute(
                "INSERT OR REPLACE INTO qtasks_workers VALUES (?,?,?,?)",
                (ns, worker_id, blob, time.time() + ttl),
            )
            and None
        ),
    )


def op_unregister_worker(conn: sqlite3.Connection, ns: str, worker_id: str) -> None:
    _write(
        conn,
        lambda c: (
            c.execute("DELETE FROM qtasks_workers WHERE ns=? AND worker_id=?", (ns, worker_id))
            and None
        ),
    )


def op_live_workers(conn: sqlite3.Connection, ns: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT worker_id, info FROM qtasks_workers WHERE ns=? AND expires_at>?",
        (ns, time.time()),
    ).fetchall()
    return [dict(serialization.loads(info), worker_id=wid) for wid, info in rows]


#: Waiting probes `data_version` every 1 ms, growing to 10 ms while nothing changes, and
#: re-queries every 50 ms, growing to 250 ms (delayed tasks and expired leases commit
#: nothing, so they are seen by a re-query).
_MIN_PROBE, _MAX_PROBE = 0.001, 0.01
_REQUERY, _MAX_REQUERY = 0.05, 0.25


class SqliteBackend(Backend):
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.path = path_from_url(url)
        self._db = _Db(self.path)
        # Async callers run each operation on the loop thread when it need not wait for a
        # lock (the common case: microseconds); otherwise on the backend's own thread.
        self._inline = _Db(self.path, busy_ms=0)
        self._last_change = time.monotonic()
        self._queued, self._finished = _signals_for(self.path)
        self._thread: ThreadPoolExecutor | None = None
        self._thread_pid = 0

    async def _run(self, op: Callable[..., T], *args: Any) -> T:
        ran, result = self._inline.try_run(op, *args)
        if ran:
            return result  # type: ignore[return-value]
        if self._thread is None or self._thread_pid != os.getpid():
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="qtasks-sqlite")
            self._thread_pid = os.getpid()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._db.run, op, *args)

    def _data_version(self) -> int | None:
        ran, version = self._inline.try_run(op_data_version)
        return version if ran else None

    def _pace(self, budget: float) -> tuple[float, float]:
        """(deadline, first probe step) for one wait. The longer nothing has changed,
        the sparser the probes (1 ms up to `_MAX_PROBE`) and re-queries (`_REQUERY` up to
        `_MAX_REQUERY`), so an idle worker costs little and a busy one reacts at once."""
        quiet = time.monotonic() - self._last_change
        requery = min(_MAX_REQUERY, max(_REQUERY, quiet / 4))
        step = min(_MAX_PROBE, max(_MIN_PROBE, quiet / 20))
        return time.monotonic() + min(budget, requery), step

    def _changed(self, base: int | None) -> bool:
        version = self._data_version()
        if version is None or version != base:
            self._last_change = time.monotonic()
            return True
        return False

    def _until_change(self, seen: int, base: int | None, budget: float) -> WaitSteps:
        """Pause until this process signals, another connection commits (`base` is the
        data version read before the caller's query), or the paced budget passes."""
        deadline, step = self._pace(budget)
        while (remaining := deadline - time.monotonic()) > 0:
            if (yield Pause(seen, min(step, remaining))):
                self._last_change = time.monotonic()
                return
            if self._changed(base):
                return
            step = min(step * 1.25, _MAX_PROBE)

    def _final_steps(self, uuid: str, timeout: float) -> WaitSteps:
        """wait_final, written once for the sync and the async driver."""
        deadline = time.monotonic() + timeout
        while True:
            seen, base = self._finished.version, self._data_version()
            record = yield LOAD
            if record is None or record.is_final or record.status == "retry":
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            yield from self._until_change(seen, base, remaining)

    # --- client side --------------------------------------------------------------------
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        await self._run(op_enqueue, self.namespace, records)
        self._last_change = time.monotonic()  # a waiter for these starts probing fast
        self._queued.notify()

    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._db.run(op_enqueue, self.namespace, records)
        self._last_change = time.monotonic()  # a waiter for these starts probing fast
        self._queued.notify()

    async def get(self, uuid: str) -> TaskRecord | None:
        return await self._run(op_get, self.namespace, uuid)

    def get_sync(self, uuid: str) -> TaskRecord | None:
        return self._db.run(op_get, self.namespace, uuid)

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        steps = self._final_steps(uuid, timeout)
        return await run_wait(self._finished, steps, lambda: self.get(uuid))

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        steps = self._final_steps(uuid, timeout)
        return run_wait_sync(self._finished, steps, lambda: self.get_sync(uuid))

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        record = await self._run(op_cancel, self.namespace, uuid, reason, self.config.result_ttl)
        self._finished.notify()
        return record

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        record = self._db.run(op_cancel, self.namespace, uuid, reason, self.config.result_ttl)
        self._finished.notify()
        return record

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        if not uuids:
            return {}
        return await self._run(op_cancel_requests, self.namespace, uuids)

    # --- worker side --------------------------------------------------------------------
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        deadline = time.monotonic() + wait
        while True:
            seen, base = self._queued.version, self._data_version()
            got = await self._fetch_once(queue, limit, lease, worker_id)
            remaining = deadline - time.monotonic()
            if got:
                self._last_change = time.monotonic()
                return got
            if remaining <= 0:
                return got
            await run_wait(self._queued, self._until_change(seen, base, remaining))

    async def _fetch_once(
        self, queue: str, limit: int, lease: float, worker_id: str
    ) -> list[Delivery]:
        # The query runs on a thread and cannot be interrupted: if our caller is
        # cancelled meanwhile, give back whatever the query leased.
        step = asyncio.ensure_future(
            self._run(op_fetch, self.namespace, queue, limit, lease, worker_id)
        )
        try:
            return await asyncio.shield(step)
        except asyncio.CancelledError:
            got = await step
            if got:
                await self.release(got)
            raise

    async def complete(self, completions: Sequence[Completion]) -> None:
        await self._run(op_complete, self.namespace, completions, self.config.result_ttl)
        self._finished.notify()
        if any(c.followups for c in completions):
            self._queued.notify()

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        if deliveries:
            await self._run(op_extend, self.namespace, deliveries, lease)

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            await self._run(op_release, self.namespace, deliveries)
            self._queued.notify()

    async def recover_expired(self, queue: str) -> None:
        await self._run(op_maintain, self.namespace)

    # --- administration -----------------------------------------------------------------
    async def purge(self) -> None:
        await self._run(op_purge, self.namespace)

    def purge_sync(self) -> None:
        self._db.run(op_purge, self.namespace)

    async def stats(self, queue: str = "default") -> dict[str, int]:
        return await self._run(op_stats, self.namespace, queue)

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        await self._run(op_register_worker, self.namespace, worker_id, info, ttl)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._run(op_unregister_worker, self.namespace, worker_id)

    async def live_workers(self) -> list[dict[str, Any]]:
        return await self._run(op_live_workers, self.namespace)

    def live_workers_sync(self) -> list[dict[str, Any]]:
        return self._db.run(op_live_workers, self.namespace)

    async def close(self) -> None:
        if self._thread is not None and self._thread_pid == os.getpid():
            await self._run(lambda conn: None)
            self._thread.shutdown(wait=False)
        self._thread = None
        self._db.close()
        self._inline.close()

    def close_sync(self) -> None:
        if self._thread is not None and self._thread_pid == os.getpid():
            self._thread.shutdown(wait=True)
        self._thread = None
        self._db.close()
        self._inline.close()


__all__ = ["SqliteBackend", "path_from_url"]
