"""LISTEN/NOTIFY for the PostgreSQL backend: one thread per process and database that
holds a connection LISTENing on the channels of the apps in use, and wakes the waiting
fetches and `wait_final` calls of this process, sync or async, through `Signal`s.

```
  NOTIFY qtasks_q_<app>  'queue name'        enqueue, release  ->  that app's fetches
  NOTIFY qtasks_r_<app>  'uuid,uuid,...'|'*'  complete, put     ->  those uuids' waiters
```

Notifications are sent inside the writing transaction, so a waiter is woken exactly
when what it waits for is visible. The thread waits in `select()` on the connection's
socket and a wake-up pipe, costing nothing while idle. When the connection breaks
(server restart, `pg_terminate_backend`), it reconnects with a backoff (0.1 s up to 2 s),
LISTENs again and then wakes every waiter, since notifications sent meanwhile are lost;
the loss and the recovery are logged as warnings. Waiters never rely on a notification
alone: each wait has its own deadline (the worker fetches again every second).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from qtasks.backends.signals import Signal
from qtasks.core.log import Log

_BACKOFF_FIRST, _BACKOFF_MAX = 0.1, 2.0


class Listener:
    """The process's LISTEN connection to one database (`conninfo`)."""

    def __init__(self, conninfo: str, where: str, log: Log) -> None:
        self.conninfo = conninfo
        self.where = where
        self.log = log
        self._lock = threading.Lock()
        #: channel -> the functions called with each payload
        self._routes: dict[str, list[Callable[[str], None]]] = {}
        self._listening: set[str] = set()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._thread: threading.Thread | None = None
        self._stopped = False
        #: Times the connection was (re)established; tests and logs read it.
        self.connects = 0
        self.connected = threading.Event()

    def subscribe(self, channel: str, route: Callable[[str], None]) -> None:
        """Call `route(payload)` for each notification on `channel` from now on (once the
        thread has LISTENed; it then calls `route("*")`, so a waiter re-checks)."""
        with self._lock:
            self._routes.setdefault(channel, []).append(route)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="qtasks-postgres-listen", daemon=True
                )
                self._thread.start()
        self._poke()

    def unsubscribe(self, channel: str, route: Callable[[str], None]) -> None:
        with self._lock:
            routes = self._routes.get(channel, [])
            if route in routes:
                routes.remove(route)
            if not routes:
                self._routes.pop(channel, None)
        self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # --- the thread ------------------------------------------------------------------------
    def _idle(self) -> bool:
        """True, and the thread is let go, when nobody listens any more; a later
        `subscribe` starts a new one."""
        with self._lock:
            if self._routes:
                return False
            self._thread = None
            self.connected.clear()
            return True

    def _run(self) -> None:
        try:
            self._listen()
        finally:
            with self._lock:  # whatever ended it, the next `subscribe` starts another
                if self._thread is threading.current_thread():
                    self._thread = None

    def _listen(self) -> None:
        delay = _BACKOFF_FIRST
        while not self._stopped:
            if self._idle():
                return
            try:
                with psycopg.Connection.connect(self.conninfo, autocommit=True) as conn:
                    # Notifications psycopg reads while it runs a LISTEN come here; the
                    # others are read off the socket by `_serve`.
                    conn.add_notify_handler(lambda n: self._dispatch(n.channel, n.payload))
                    self._listening = set()
                    self.connects += 1
                    if self.connects > 1:
                        self.log.warning("LISTEN on %s is back", self.where)
                    delay = _BACKOFF_FIRST
                    self._serve(conn)
            except (psycopg.Error, OSError) as exc:
                self.connected.clear()
                if self._stopped or self._idle():
                    return
                self.log.warning(
                    "LISTEN connection to %s lost (%s); reconnecting in %.1f s",
                    self.where,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    delay,
                )
                self._wake_all()  # what was sent meanwhile is lost: everyone looks again
                time.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)

    def _serve(self, conn: psycopg.Connection[Any]) -> None:
        pgconn = conn.pgconn
        while not self._stopped:
            self._sync_channels(conn)
            if self._idle():
                return  # the connection closes with its block
            self.connected.set()
            ready, _, _ = select.select([pgconn.socket, self._wake_r], [], [])
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            if pgconn.socket in ready:
                pgconn.consume_input()
                if pgconn.status != psycopg.pq.ConnStatus.OK:
                    raise psycopg.OperationalError("the connection is closed")
                while (note := pgconn.notifies()) is not None:
                    self._dispatch(note.relname.decode(), note.extra.decode())

    def _sync_channels(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            wanted = set(self._routes)
        added = wanted - self._listening
        for channel in added:
            conn.execute(f'LISTEN "{channel}"')
        for channel in self._listening - wanted:
            conn.execute(f'UNLISTEN "{channel}"')
        self._listening = wanted
        for channel in added:
            self._dispatch(channel, "*")

    def _dispatch(self, channel: str, payload: str) -> None:
        with self._lock:
            routes = list(self._routes.get(channel, ()))
        for route in routes:
            route(payload)

    def _wake_all(self) -> None:
        with self._lock:
            routes = [r for rs in self._routes.values() for r in rs]
        for route in routes:
            route("*")


class Waiters:
    """Wake-ups of one app: its fetches wait on `queued`; each `wait_final` on the
    signal of its uuid (`for_uuid`), so a completion wakes only its own waiters."""

    def __init__(self) -> None:
        self.queued = Signal()
        self._lock = threading.Lock()
        self._by_uuid: dict[str, tuple[Signal, int]] = {}

    def on_queued(self, payload: str) -> None:
        self.queued.notify()

    def on_finished(self, payload: str) -> None:
        with self._lock:
            if payload == "*":
                signals = [s for s, _ in self._by_uuid.values()]
            else:
                signals = [e[0] for u in payload.split(",") if (e := self._by_uuid.get(u))]
        for signal in signals:
            signal.notify()

    @contextlib.contextmanager
    def for_uuid(self, uuid: str) -> Any:
        with self._lock:
            signal, count = self._by_uuid.get(uuid, (Signal(), 0))
            self._by_uuid[uuid] = (signal, count + 1)
        try:
            yield signal
        finally:
            with self._lock:
                signal, count = self._by_uuid[uuid]
                if count <= 1:
                    del self._by_uuid[uuid]
                else:
                    self._by_uuid[uuid] = (signal, count - 1)


_LISTENERS: dict[str, Listener] = {}
_LISTENERS_LOCK = threading.Lock()
# The waiters of each app (conninfo, queue channel, results channel), shared by the
# backend objects of the app in this process: [Waiters, how many hold them].
_WAITERS: dict[tuple[str, str, str], list[Any]] = {}


def take_waiters(conninfo: str, where: str, log: Log, channels: tuple[str, str]) -> Waiters:
    """The waiters of the app whose (queue, results) channels these are, subscribed to
    the process's listener by the first taker; `give_waiters` when done with them."""
    with _LISTENERS_LOCK:
        entry = _WAITERS.get((conninfo, *channels))
        if entry is None:
            waiters = Waiters()
            listener = _listener(conninfo, where, log)
            listener.subscribe(channels[0], waiters.on_queued)
            listener.subscribe(channels[1], waiters.on_finished)
            entry = _WAITERS[(conninfo, *channels)] = [waiters, 0]
        entry[1] += 1
        taken: Waiters = entry[0]
        return taken


def give_waiters(conninfo: str, channels: tuple[str, str]) -> None:
    """One holder fewer; the last one unsubscribes the app's channels."""
    with _LISTENERS_LOCK:
        entry = _WAITERS.get((conninfo, *channels))
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _WAITERS[(conninfo, *channels)]
        listener = _LISTENERS.get(conninfo)
    if listener is not None:
        listener.unsubscribe(channels[0], entry[0].on_queued)
        listener.unsubscribe(channels[1], entry[0].on_finished)


def listener_for(conninfo: str, where: str, log: Log) -> Listener:
    """The process's listener for this database (made on first use)."""
    with _LISTENERS_LOCK:
        return _listener(conninfo, where, log)


def _listener(conninfo: str, where: str, log: Log) -> Listener:
    found = _LISTENERS.get(conninfo)
    if found is None:
        found = _LISTENERS[conninfo] = Listener(conninfo, where, log)
    return found


def _after_fork() -> None:
    # The parent's threads do not exist here; each child makes its own listeners.
    _LISTENERS.clear()
    _WAITERS.clear()


os.register_at_fork(after_in_child=_after_fork)

__all__ = ["Listener", "Waiters", "give_waiters", "listener_for", "take_waiters"]
