"""The SQLite driver: the file's path, one connection per process, write transactions,
error translation, and the file's upkeep (incremental vacuum, checkpoints). It knows
nothing about tasks: the schema and the operations are in `ops.py`.

The connection follows the path: a file deleted or replaced under the running process
is noticed and the file now at the path is opened (`Db`), and a connection that hit a
read-only or I/O error is opened again after a backoff (docs/backends/sqlite.md).

Every `sqlite3` (or file system) error leaves as `BackendUnavailableError` when the file
cannot be opened or written (missing directory, no permission, read-only, disk I/O,
locked for longer than the busy timeout), else as `BackendError`; the message names the
file and the driver's error is the `__cause__`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from qtasks.core.log import Log
from qtasks.exc import BackendError, BackendUnavailableError, ConfigError

T = TypeVar("T")

# Words of sqlite3.OperationalError messages that mean the file cannot be used now.
_UNAVAILABLE = ("unable to open", "readonly", "read-only", "disk i/o", "locked", "busy", "full")
# Of those, the ones after which the connection is opened again (see `Db`).
_REOPEN = ("unable to open", "readonly", "read-only", "disk i/o")
_REOPEN_FIRST, _REOPEN_MAX = 0.1, 5.0
#: Longest time, in seconds, an operation that writes nothing trusts the last check
#: that the path still names the open file (a write is always checked after it).
CHECK_EVERY = 0.1

#: Bytes the write-ahead log is cut back to whenever it restarts; it grows past this
#: only during a transaction bigger than that (a steady load checkpoints every ~4 MB).
JOURNAL_SIZE_LIMIT = 8 * 1024 * 1024
#: Largest file converted to incremental vacuum by a VACUUM when it is opened.
CONVERT_MAX_BYTES = 32 * 1024 * 1024


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


class map_exceptions:  # lower case like contextlib.suppress: `with map_exceptions(path):`
    """Translate a `sqlite3.Error` or `OSError` raised inside the block (see the module
    docstring); `path` names the database file in the message."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, (sqlite3.Error, OSError)):
            raise self.translate(exc) from exc

    def translate(self, exc: sqlite3.Error | OSError) -> BackendError:
        text = str(exc).lower()
        if isinstance(exc, OSError) or (
            isinstance(exc, sqlite3.OperationalError) and any(w in text for w in _UNAVAILABLE)
        ):
            return BackendUnavailableError(
                f"SQLite database {self.path} cannot be opened or written: {exc}"
            )
        return BackendError(f"SQLite database {self.path} failed: {exc}")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def needs_reopen(exc: BaseException) -> bool:
    """True for errors a new connection may not have: a connection opened while the file
    was read-only stays read-only after the file becomes writable (SQLite falls back to
    read-only silently), and a disk I/O error may pass."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and any(w in text for w in _REOPEN)


def _identity(path: str) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file now at `path`; None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _set_up(conn: sqlite3.Connection, schema: str, deadline: float) -> None:
    """Pragmas and the schema. When several processes or threads open a new file at
    once, switching it to WAL can fail with "database is locked" at once, without
    SQLite's busy handler waiting: that is retried here until `deadline` (every step is
    idempotent)."""
    conn.execute("PRAGMA busy_timeout=30000")
    pause = 0.001
    while True:
        try:
            # Before the first table exists, so a new file gives freed pages back (an
            # existing file keeps its mode until VACUUM: see `_convert_to_incremental`).
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            conn.executescript(schema)
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


# Files already warned about, so a process says it once, not once per connection.
_WARNED: set[str] = set()


def _convert_to_incremental(conn: sqlite3.Connection, path: str, log: Log | None) -> None:
    """Give a file created without incremental vacuum that mode, by the one VACUUM that
    applies it, when the file is small enough for that to take well under a second:
    VACUUM rewrites the whole file and holds the write lock meanwhile (other writers
    wait, readers go on). A bigger file is left as it is, with a warning saying how to
    convert it while no worker runs."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 0:
        return
    pages, page_size = (
        conn.execute("PRAGMA page_count").fetchone()[0],
        conn.execute("PRAGMA page_size").fetchone()[0],
    )
    if pages * page_size > CONVERT_MAX_BYTES:
        if log is not None and path not in _WARNED:
            _WARNED.add(path)
            log.warning(
                "SQLite database %s (%.0f MB) was created without incremental vacuum: the "
                "space of expired records is reused but not given back to the file system. "
                "To convert it, stop the workers and run: "
                "sqlite3 %s 'PRAGMA auto_vacuum=INCREMENTAL; VACUUM;'",
                path,
                pages * page_size / 1e6,
                path,
            )
        return
    try:
        conn.execute("VACUUM")
    except sqlite3.OperationalError:
        return  # busy or read-only now: the next opening tries again


class Db:
    """One connection (per process) to the file at `path`, guarded by a lock; `schema`
    is run when it opens. `busy_ms` is how long a statement waits for another process's
    write lock before failing; `log` gets the warnings (file replaced, reopened).

    After every operation that changed rows, the file at `path` is compared (st_dev,
    st_ino) with the one the connection opened, and before any operation when that was
    last done more than `CHECK_EVERY` seconds ago. When they differ the connection is
    closed and the file now at the path is opened (created with the schema if missing),
    with a warning; an operation whose writes went to the old file is run again on the
    new one (every operation is one transaction over the file and nothing of the old
    file is kept, so repeating it there is safe). So no write is acknowledged that only
    a deleted file holds; reads may see the old file for up to `CHECK_EVERY`. If the
    file changes again during the repeat, `BackendUnavailableError` is raised.

    After an error a new connection may not have (read-only, disk I/O, cannot open),
    the connection is closed and opened again by the next operation, no sooner than a
    backoff of 0.1 s doubling to 5 s; meanwhile operations raise that error again."""

    def __init__(
        self, path: str, schema: str, busy_ms: int = 30_000, log: Log | None = None
    ) -> None:
        self.path = path
        self.schema = schema
        self.busy_ms = busy_ms
        self.log = log
        self.lock = threading.Lock()
        self.errors = map_exceptions(path)
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._file: tuple[int, int] | None = None  # what the connection opened
        self._checked = 0.0  # time.monotonic() when the path last named that file
        self._backoff = 0.0
        self._reopen_at = 0.0  # time.monotonic() before which no reopening is tried
        self._failure = ""

    def conn(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            if time.monotonic() - self._checked < CHECK_EVERY or self._same_file():
                return conn
            self._drop()
            self._warn_replaced()
        return self._open()

    def _same_file(self) -> bool:
        """Whether the path still names the file the connection opened (one stat())."""
        if _identity(self.path) != self._file:
            return False
        self._checked = time.monotonic()
        return True

    def _open(self) -> sqlite3.Connection:
        if time.monotonic() < self._reopen_at:
            raise BackendUnavailableError(f"{self._failure} (retrying shortly)")
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        try:
            deadline = time.monotonic() + max(self.busy_ms, 30_000) / 1000
            _set_up(conn, self.schema, deadline)
            _convert_to_incremental(conn, self.path, self.log)
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_ms)}")
            self._file, self._checked = _identity(self.path), time.monotonic()
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _drop(self) -> None:
        """Forget the connection (closed when this process opened it). SQLite does not
        checkpoint or delete the -wal of a file that was moved, so closing the old
        connection leaves a new file at the path alone."""
        conn, self._conn, self._file = self._conn, None, None
        if conn is not None and self._pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _warn_replaced(self) -> None:
        if self.log is not None:
            self.log.warning(
                "SQLite database %s was deleted or replaced while open; using the file now "
                "at that path (created if missing). Tasks only in the old file are not in it.",
                self.path,
            )

    def _call(self, op: Callable[..., T], args: tuple[Any, ...]) -> T:
        for _ in range(2):  # the operation, then once more if the file was replaced
            conn = self.conn()
            changes = conn.total_changes
            result = op(conn, *args)
            if conn.total_changes == changes:
                return result
            self._backoff = 0.0
            if self._same_file():
                return result
            # Deleted or replaced before this write committed: it went to the old file.
            self._drop()
            self._warn_replaced()
        raise BackendUnavailableError(
            f"SQLite database {self.path} was deleted or replaced during this operation "
            "twice in a row; its writes went to the old files: retry it"
        )

    def _failed(self, exc: sqlite3.Error | OSError) -> BackendError:
        error = self.errors.translate(exc)
        if needs_reopen(exc):
            self._drop()
            self._backoff = min(max(self._backoff * 2, _REOPEN_FIRST), _REOPEN_MAX)
            self._reopen_at = time.monotonic() + self._backoff
            self._failure = str(error)
        return error

    def run(self, op: Callable[..., T], *args: Any) -> T:
        with self.lock:
            try:
                return self._call(op, args)
            except (sqlite3.Error, OSError) as exc:  # try/except: on every call, cheaper
                raise self._failed(exc) from exc

    def try_run(self, op: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        """Run `op` now if nothing has to wait: neither this connection's lock (another
        thread) nor the database's write lock (another process). (False, None) when it
        would have to wait; the op then has changed nothing."""
        if not self.lock.acquire(blocking=False):
            return False, None
        try:
            return True, self._call(op, args)
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                return False, None
            raise self._failed(exc) from exc
        except (sqlite3.Error, OSError) as exc:
            raise self._failed(exc) from exc
        finally:
            self.lock.release()

    def close(self) -> None:
        with self.lock, self.errors:
            self._drop()


def write(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
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


def reclaim_space(conn: sqlite3.Connection, deadline: float, pages: int = 512) -> None:
    """Give free pages back to the file system and keep the write-ahead log small.

    Incremental vacuum moves up to `pages` free pages to the end of the file and cuts
    them off, one short write transaction at a time (other writers get in between),
    until none is free or `time.monotonic()` passes `deadline`. Then a PASSIVE
    checkpoint copies the log into the file without waiting for anyone, so the next
    write restarts the log and cuts it back to `JOURNAL_SIZE_LIMIT`; when the log is
    larger than that, a TRUNCATE checkpoint empties it at once, if no reader is in it
    (it does not wait for readers). No-op on a file without incremental vacuum."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
        while conn.execute("PRAGMA freelist_count").fetchone()[0] > 0:
            # One page per step of the statement: fetchall() runs them all.
            write(conn, lambda c: c.execute(f"PRAGMA incremental_vacuum({pages})").fetchall())
            if time.monotonic() > deadline:
                break
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    try:
        big = os.path.getsize(conn_path(conn) + "-wal") > JOURNAL_SIZE_LIMIT
    except OSError:
        big = False
    if big:
        busy = conn.execute("PRAGMA busy_timeout").fetchone()[0]
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(busy)}")


def conn_path(conn: sqlite3.Connection) -> str:
    """The file of the connection's main database."""
    return str(conn.execute("PRAGMA database_list").fetchone()[2])


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits (any process): a cheap change probe."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


__all__ = [
    "Db",
    "conn_path",
    "data_version",
    "is_busy",
    "map_exceptions",
    "needs_reopen",
    "path_from_url",
    "reclaim_space",
    "write",
]
