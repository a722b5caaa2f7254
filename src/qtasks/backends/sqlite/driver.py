"""The SQLite driver: the file's path, one connection per process, write transactions,
and error translation. It knows nothing about tasks: the schema and the operations are
in `ops.py`.

Every `sqlite3` (or file system) error leaves as `BackendUnavailableError` when the file
cannot be opened or written (missing directory, no permission, read-only, disk I/O,
locked for longer than the busy timeout), else as `BackendError`; the message names the
file and the driver's error is the `__cause__`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from qtasks.exc import BackendError, BackendUnavailableError, ConfigError

T = TypeVar("T")

# Words of sqlite3.OperationalError messages that mean the file cannot be used now.
_UNAVAILABLE = ("unable to open", "readonly", "read-only", "disk i/o", "locked", "busy", "full")


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


def _set_up(conn: sqlite3.Connection, schema: str, deadline: float) -> None:
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
            conn.executescript(schema)
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


class Db:
    """One connection (per process) to the file at `path`, guarded by a lock; `schema`
    is run when it opens. `busy_ms` is how long a statement waits for another process's
    write lock before failing."""

    def __init__(self, path: str, schema: str, busy_ms: int = 30_000) -> None:
        self.path = path
        self.schema = schema
        self.busy_ms = busy_ms
        self.lock = threading.Lock()
        self.errors = map_exceptions(path)
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def conn(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            try:
                deadline = time.monotonic() + max(self.busy_ms, 30_000) / 1000
                _set_up(conn, self.schema, deadline)
            except BaseException:
                conn.close()
                raise
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_ms)}")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def run(self, op: Callable[..., T], *args: Any) -> T:
        with self.lock:
            try:
                return op(self.conn(), *args)
            except (sqlite3.Error, OSError) as exc:  # try/except: on every call, cheaper
                raise self.errors.translate(exc) from exc

    def try_run(self, op: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        """Run `op` now if nothing has to wait: neither this connection's lock (another
        thread) nor the database's write lock (another process). (False, None) when it
        would have to wait; the op then has changed nothing."""
        if not self.lock.acquire(blocking=False):
            return False, None
        try:
            return True, op(self.conn(), *args)
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                return False, None
            raise self.errors.translate(exc) from exc
        except (sqlite3.Error, OSError) as exc:
            raise self.errors.translate(exc) from exc
        finally:
            self.lock.release()

    def close(self) -> None:
        with self.lock, self.errors:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


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


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits (any process): a cheap change probe."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


__all__ = ["Db", "data_version", "is_busy", "map_exceptions", "path_from_url", "write"]
