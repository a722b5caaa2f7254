"""The PostgreSQL driver: the URL, connections, running operations, the schema on first
use, error translation. It knows nothing about tasks: the operations are in `ops.py`.

An operation is a generator of `Q` statements (`ops.py`): the driver runs each on a
connection and sends back its rows (or, for a statement without rows, its row count).
The same generator runs on psycopg's sync connection (`run_sync`) for the sync client
and the worker's lease thread, and on its async connection (`run`) for the worker and
the async client; `tx=True` runs all its statements in one transaction, otherwise each
commits on its own (autocommit). `run_on` runs one on a connection the user holds, in
the user's open transaction.

Connections: one per thread for sync callers, a free list per event loop for async
ones (a connection belongs to the loop that opened it). A connection that fails is
dropped and the next call opens another, so a connection error reaches the caller at
once with the server's reason (a pool's checkout would wait out its timeout instead).
Every session gets `statement_timeout` (URL `?statement_timeout=seconds`, default 30).

Errors leave as `BackendUnavailableError` when the server cannot be reached or refuses
the connection (naming host, port and database, never the password), else as
`BackendError`; psycopg's error is the `__cause__`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg

from qtasks.backends.postgres import migrations, schema
from qtasks.backends.postgres.ops import Q
from qtasks.core.log import Log
from qtasks.core.steps import run_async, run_sync
from qtasks.exc import BackendError, BackendUnavailableError, ConfigError

T = TypeVar("T")
Op = Generator[Q, Any, T]

DEFAULT_STATEMENT_TIMEOUT = 30.0
#: libpq keepalives: a server that vanished without closing the socket is noticed
#: within about 25 s even by a connection that only waits.
_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
}
_CONNECT_TIMEOUT = "5"


class Target:
    """What a `postgresql://` URL names: the libpq conninfo, the schema, the statement
    timeout, and a description for messages (host, port, database; no password)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("postgresql", "postgres"):
            raise ConfigError(f"Not a PostgreSQL URL: {parts.scheme}://")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            self.schema = schema.check_name(query.pop("schema", schema.DEFAULT_SCHEMA))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            self.statement_timeout = float(
                query.pop("statement_timeout", DEFAULT_STATEMENT_TIMEOUT)
            )
        except ValueError:
            raise ConfigError("statement_timeout in a PostgreSQL URL is seconds, e.g. 30") from None
        if not self.statement_timeout > 0:
            raise ConfigError("statement_timeout in a PostgreSQL URL must be > 0 seconds")
        #: Create and migrate the schema on first use; with false, only check it.
        self.migrate = _flag(query, "migrate")
        #: Keep server-side prepared statements; false behind a pooler in transaction
        #: mode (PgBouncer), where a session's statements may reach another server.
        self.prepare = _flag(query, "prepare")
        for key, value in _KEEPALIVES.items():
            query.setdefault(key, value)
        query.setdefault("connect_timeout", _CONNECT_TIMEOUT)
        query.setdefault("application_name", "qtasks")
        ms = int(self.statement_timeout * 1000)
        query["options"] = (query.get("options", "") + f" -c statement_timeout={ms}").strip()
        self.conninfo = urlunsplit(
            ("postgresql", parts.netloc, parts.path, urlencode(query, quote_via=quote), "")
        )
        host = parts.hostname or "localhost"
        port = parts.port or 5432
        #: The database's name (libpq's default: the user's name).
        self.database = parts.path.lstrip("/") or (parts.username or "postgres")
        self.where = f"PostgreSQL at {host}:{port}/{self.database}"


def _flag(query: dict[str, str], name: str) -> bool:
    value = query.pop(name, "true").lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} in a PostgreSQL URL is true or false, not {value!r}")
    return value in ("true", "1", "yes")


def translate(exc: BaseException, where: str) -> BackendError:
    """A psycopg error as qtasks' own: unavailable when the server cannot be used now."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.QueryCanceled):  # an OperationalError, but not down
        return BackendError(f"{where}: a statement ran past its statement_timeout ({text})")
    if isinstance(exc, psycopg.OperationalError | OSError):
        return BackendUnavailableError(f"{where} is unavailable: {text}")
    return BackendError(f"{where}: {text}")


class Db:
    """Connections to one database, and the runners of operations over them."""

    def __init__(self, target: Target, log: Log) -> None:
        self.target = target
        self.log = log
        self._lock = threading.Lock()
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        self._pid = os.getpid()
        # Sync connections: one per thread; `_epoch` changes when they are all closed.
        self._local = threading.local()
        self._epoch = object()
        # Every sync connection opened, closed by `close_sync` or, for a driver dropped
        # without closing, when it is collected (before psycopg would warn about them).
        self._conns: list[psycopg.Connection[Any]] = []
        weakref.finalize(self, _close_all, self._conns, self._pid)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConns]
        self._loops = weakref.WeakKeyDictionary()

    # --- the schema, on first use ----------------------------------------------------------
    @property
    def _ready(self) -> bool:
        return (self.target.conninfo, self.target.schema) in _READY

    def _schema_op(self) -> tuple[Callable[[], Op[Any]], bool]:
        """(operation, in a transaction) that makes the schema usable: migrate it, or,
        with `?migrate=false`, read its version for `_schema_checked`."""
        if self.target.migrate:
            return partial(migrations.migrate, self.target.schema), True
        return partial(migrations.version, self.target.schema), False

    def _schema_checked(self, result: Any) -> None:
        if not self.target.migrate and result != schema.LATEST:
            raise ConfigError(
                f"Schema {self.target.schema!r} in {self.target.where} is at version "
                f"{result}, this qtasks needs {schema.LATEST} (the URL says migrate=false): "
                "run `qtasks -A module:app db upgrade`, or apply `qtasks db sql` yourself"
            )
        _READY.add((self.target.conninfo, self.target.schema))

    def ensure_schema(self) -> None:
        """Create or migrate the schema once per process (`migrations.migrate`); with
        `?migrate=false`, check that it is current instead (`ConfigError` if not)."""
        if not self._ready:
            make, tx = self._schema_op()
            self._schema_checked(self._run_sync(make, tx))

    async def ensure_schema_async(self) -> None:
        if not self._ready:
            make, tx = self._schema_op()
            self._schema_checked(await self._run(make, tx))

    def version_sync(self) -> int:
        """The applied schema version (0: none)."""
        return self._run_sync(partial(migrations.version, self.target.schema))

    def migrate_sync(self) -> list[int]:
        """Apply what is missing of the schema now; the versions applied."""
        return self._run_sync(partial(migrations.migrate, self.target.schema), True)

    # --- sync -------------------------------------------------------------------------------
    @contextmanager
    def _sync_conn(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's connection (opened on first use, again after it failed)."""
        if self._pid != os.getpid():
            self._reset()
        held: _Held | None = getattr(self._local, "held", None)
        if held is None or held.conn.closed or held.epoch is not self._epoch:
            conn = self.connect_sync()
            with self._lock:
                self._conns[:] = [c for c in self._conns if not c.closed]
                self._conns.append(conn)
            held = self._local.held = _Held(conn, self._epoch)
        conn = held.conn
        try:
            yield conn
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError) or (
                conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
            ):
                self._local.held = None
                conn.close()
            raise translate(exc, self.target.where) from exc

    def run_sync(self, make: Callable[[], Op[T]], tx: bool = False) -> T:
        """Run the operation `make()` on this thread's connection; once more on a new
        connection when a reused one turns out to be broken (see `_retryable`)."""
        self.ensure_schema()
        return self._run_sync(make, tx)

    def _run_sync(self, make: Callable[[], Op[T]], tx: bool = False) -> T:
        for attempt in (1, 2):
            fresh = getattr(self._local, "held", None) is None
            try:
                with self._sync_conn() as conn:
                    if tx:
                        with conn.transaction():
                            return drive_sync(conn, make(), self.target.prepare)
                    return drive_sync(conn, make(), self.target.prepare)
            except BackendError as exc:
                if attempt == 2 or fresh or not _retryable(exc):
                    raise
        raise AssertionError("unreachable")

    # --- async ------------------------------------------------------------------------------
    async def _loop_conns(self) -> _LoopConns:
        if self._pid != os.getpid():
            self._reset()
        loop = asyncio.get_running_loop()
        conns = self._loops.get(loop)
        if conns is None:
            conns = self._loops[loop] = _LoopConns()
            await conns.guard.__anext__()
        return conns

    async def run(self, make: Callable[[], Op[T]], tx: bool = False) -> T:
        """`run_sync` for async callers, on a connection of this event loop."""
        if not self._ready:
            await self.ensure_schema_async()
        return await self._run(make, tx)

    async def _run(self, make: Callable[[], Op[T]], tx: bool = False) -> T:
        conns = self._loops.get(asyncio.get_running_loop()) or await self._loop_conns()
        for attempt in (1, 2):
            fresh = not conns.idle
            conn = await conns.take(self)
            try:
                if tx:
                    async with conn.transaction():
                        result = await drive_async(conn, make(), self.target.prepare)
                else:
                    result = await drive_async(conn, make(), self.target.prepare)
            except psycopg.Error as exc:
                conns.drop(conn)
                error = translate(exc, self.target.where)
                if attempt == 2 or fresh or not _retryable(error):
                    raise error from exc
                continue
            except BaseException:
                # Cancelled mid-statement: the connection may be out of step; never reuse it.
                conns.drop(conn)
                raise
            conns.give(conn)
            return result
        raise AssertionError("unreachable")

    async def connect_async(self) -> psycopg.AsyncConnection[Any]:
        try:
            conn = await psycopg.AsyncConnection.connect(self.target.conninfo, autocommit=True)
            if not self.target.prepare:
                conn.prepare_threshold = None
            return conn
        except psycopg.Error as exc:
            raise translate(exc, self.target.where) from exc

    def connect_sync(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.Connection.connect(self.target.conninfo, autocommit=True)
            if not self.target.prepare:
                conn.prepare_threshold = None
            return conn
        except psycopg.Error as exc:
            raise translate(exc, self.target.where) from exc

    # --- closing ----------------------------------------------------------------------------
    async def close(self) -> None:
        current = asyncio.get_running_loop()
        loops, self._loops = list(self._loops.items()), weakref.WeakKeyDictionary()
        for loop, conns in loops:
            if loop is current:
                await conns.guard.aclose()
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(conns.guard.aclose(), loop)
        self.close_sync()

    def close_sync(self) -> None:
        with self._lock:
            self._epoch = object()
        _close_all(self._conns, self._pid)


def _finish_all(conns: set[psycopg.AsyncConnection[Any]], pid: int) -> None:
    """End async connections without their loop (the socket is closed synchronously)."""
    taken = list(conns)
    conns.clear()
    if pid == os.getpid():
        for conn in taken:
            if not conn.closed:
                conn.pgconn.finish()


def _close_all(conns: list[psycopg.Connection[Any]], pid: int) -> None:
    """Close and forget `conns`, in the process that opened them only."""
    taken, conns[:] = list(conns), []
    if pid == os.getpid():
        for conn in taken:
            conn.close()


class _Held:
    """A thread's sync connection, closed when the thread (or the driver) is gone, by
    the process that opened it only (a forked child must not end its parent's session)."""

    __slots__ = ("conn", "epoch", "pid")

    def __init__(self, conn: psycopg.Connection[Any], epoch: object) -> None:
        self.conn, self.epoch, self.pid = conn, epoch, os.getpid()

    def __del__(self) -> None:
        if self.pid == os.getpid() and self.conn.pgconn.status == psycopg.pq.ConnStatus.OK:
            self.conn.close()


class _LoopConns:
    """Idle async connections of one event loop. `guard` is an async generator started
    on that loop, so a loop that ends without `close()` still closes them (the loop's
    shutdown of async generators runs its `finally` while the loop can still await)."""

    def __init__(self) -> None:
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.all: set[psycopg.AsyncConnection[Any]] = set()
        self.guard = self._guard()
        # A loop stopped without shutting down its async generators never runs the
        # guard's `finally`: then the connections are ended when this object goes.
        weakref.finalize(self, _finish_all, self.all, os.getpid())

    async def _guard(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            conns = list(self.all)
            self.all.clear()
            self.idle.clear()
            for conn in conns:
                await conn.close()

    async def take(self, db: Db) -> psycopg.AsyncConnection[Any]:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
            self.all.discard(conn)
        conn = await db.connect_async()
        self.all.add(conn)
        return conn

    def give(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.drop(conn)
        else:
            self.idle.append(conn)

    def drop(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.all.discard(conn)
        if not conn.closed:
            # Closing an async connection needs an await; the socket goes with it here.
            conn.pgconn.finish()


def _retryable(error: BackendError) -> bool:
    """A connection that broke while idle (server restarted, connection terminated)
    fails on its next statement: worth one more try on a new connection. Every
    operation is safe to repeat: enqueue is idempotent by uuid, writes by workers are
    fenced by their lease token, and a fetch whose reply was lost leaves its tasks
    leased until the lease ends, when any worker takes them."""
    return isinstance(error, BackendUnavailableError)


# --- driving operations ------------------------------------------------------------------------


def drive_sync(conn: Any, op: Op[T], prepare: bool = False) -> T:
    """Run `op`'s statements on a sync connection (psycopg's, or the user's), each
    statement's rows (or row count) sent back in (`core.steps.run_sync`). With
    `prepare`, hot statements are prepared on the server at once; otherwise the
    connection's own `prepare_threshold` decides (a user's connection keeps its
    setting, e.g. none behind PgBouncer)."""

    def perform(query: Q) -> Any:
        cur = conn.execute(query.sql, query.params, prepare=query.prepare if prepare else None)
        return cur.fetchall() if cur.description is not None else cur.rowcount

    return run_sync(op, perform)


async def drive_async(conn: Any, op: Op[T], prepare: bool = False) -> T:
    """`drive_sync` for an async connection (`core.steps.run_async`)."""

    async def perform(query: Q) -> Any:
        ask = query.prepare if prepare else None
        cur = await conn.execute(query.sql, query.params, prepare=ask)
        return await cur.fetchall() if cur.description is not None else cur.rowcount

    return await run_async(op, perform)


#: (conninfo, schema) made usable by this process: checked once, not per backend object.
_READY: set[tuple[str, str]] = set()
_LIVE: weakref.WeakSet[Db] = weakref.WeakSet()
_ORPHANS: list[Any] = []  # a forked child's copies of its parent's connections


def _after_fork() -> None:
    # The parent's sockets are not ours: keep their objects (collecting them would end
    # the parent's sessions) and start afresh.
    for db in list(_LIVE):
        _ORPHANS.append((db._local, db._conns, db._loops))
        db._lock = threading.Lock()
        db._reset()


os.register_at_fork(after_in_child=_after_fork)


__all__ = [
    "DEFAULT_STATEMENT_TIMEOUT",
    "Db",
    "Op",
    "Target",
    "drive_async",
    "drive_sync",
    "translate",
]
