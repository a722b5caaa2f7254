"""The Redis driver: connections, commands and pipelines on the wire, script loading,
error translation. It carries out the steps of the flows in `flows.py` (commands,
scripts, `Pipe`s; see `commands.py`) for sync and async callers through
`qtasks.core.steps.run_sync/run_async`, and knows nothing about tasks.

Connections are lazy. The sync side keeps one per thread, the async side a free list per
event loop; both skip redis-py's pool checkout and command layers, most of its per-call
cost, and keep its Connection classes (URL options, TLS, auth) and its Retry. After a
fork the child opens its own. Every redis-py error leaves as `BackendUnavailableError`
(server unreachable) or `BackendError`, naming the URL without its password.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from functools import partial
from types import TracebackType
from typing import Any, NoReturn

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from qtasks.backends.redis.commands import BLOCK_CHUNK, Cmd, Flow, Pipe, Script, Source
from qtasks.core.ports import redact
from qtasks.core.steps import run_async, run_sync
from qtasks.exc import BackendError, BackendUnavailableError

_pack: Callable[[tuple[Any, ...]], bytes] | None
try:
    from hiredis import pack_command as _pack
except ImportError:  # redis-py's own packer then
    _pack = None

_SOCKET_TIMEOUT = BLOCK_CHUNK + 10.0
# Retries after a lost connection: 10 ms doubling up to 1 s, ~6 s in all, which covers
# a Redis restart; a blocked fetch re-issues its BLPOP on the new connection.
_RETRIES = 12
# Notice a dead server (power loss, partition) under a blocked read within ~25 s.
_KEEPALIVE = {
    getattr(socket, opt): value
    for opt, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
    if hasattr(socket, opt)
}


class map_exceptions:  # lower case like contextlib.suppress: `with map_exceptions(url):`
    """Translate a redis-py error raised inside the block: connection refused, lost or
    timed out -> `BackendUnavailableError`, anything else -> `BackendError`; the message
    names the URL without its password, the redis-py error is the `__cause__`."""

    __slots__ = ("where",)

    def __init__(self, url: str) -> None:
        self.where = redact(url)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, RedisError):
            raise self.translate(exc) from exc

    def translate(self, exc: RedisError) -> BackendError:
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
            return BackendUnavailableError(f"Redis at {self.where} is unreachable: {exc}")
        return BackendError(f"Redis at {self.where} failed: {exc}")


class RedisDriver:
    """Runs flows on Redis; mixed into the backend, which sets `url` and `prefix` (the
    namespace's key prefix, every script's one key) and then calls `_init_driver()`.

    The backend may override `_undo(cmd, reply)`: what gives back the effect of a
    script whose caller was cancelled after it ran."""

    url: str
    prefix: str

    def _init_driver(self) -> None:
        self._errors = map_exceptions(self.url)
        self._local = threading.local()
        self._reset()
        _LIVE.add(self)

    def _undo(self, cmd: Cmd, reply: Any) -> Cmd | None:
        return None

    # --- connections: lazy; sync: one per thread; async: a free list per event loop ------
    def _reset(self) -> None:
        """Forget every connection (after a fork the parent's sockets are not ours)."""
        self._lock = threading.Lock()  # a fork may have copied it locked
        self._epoch = object()  # thread-local connections of an older epoch are dropped
        self._factory: redis.ConnectionPool | None = None
        self._afactory: redis.asyncio.ConnectionPool | None = None
        self._conns: weakref.WeakSet[Any] = weakref.WeakSet()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConns]
        self._loops = weakref.WeakKeyDictionary()

    def _options(self, retry: Any, socket_timeout: float | None) -> dict[str, Any]:
        return {
            "retry": retry,
            "retry_on_error": [RedisConnectionError, RedisTimeoutError],
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": 5.0,
            "socket_keepalive": True,
            "socket_keepalive_options": _KEEPALIVE,
        }

    def _sync_perform(self) -> Callable[[Cmd | Pipe], Any]:
        """This thread's `perform` (its connection bound in), made once per connection."""
        local = self._local
        if getattr(local, "epoch", None) is self._epoch:
            cached: Callable[[tuple[Any, ...] | Pipe], Any] = local.perform
            return cached
        with self._lock:
            if self._factory is None:
                retry = Retry(ExponentialBackoff(cap=1.0, base=0.01), _RETRIES)
                options = self._options(retry, _SOCKET_TIMEOUT)
                self._factory = redis.ConnectionPool.from_url(self.url, **options)
            conn = self._factory.make_connection()
            self._conns.add(conn)  # weak: the connection dies with its thread
            local.perform = partial(self._perform_sync, conn)
            local.epoch = self._epoch
        made: Callable[[tuple[Any, ...] | Pipe], Any] = local.perform
        return made

    async def _loop_conns(self) -> _LoopConns:
        loop = asyncio.get_running_loop()
        conns = self._loops.get(loop)
        if conns is None:
            if self._afactory is None:
                retry = redis.asyncio.retry.Retry(ExponentialBackoff(cap=1.0, base=0.01), _RETRIES)
                # No socket timeout: redis.asyncio pays a wait_for per send for it, and
                # TCP keepalive already notices a dead server under a blocked read.
                options = self._options(retry, None)
                self._afactory = redis.asyncio.ConnectionPool.from_url(self.url, **options)
            conns = self._loops[loop] = _LoopConns(self._afactory, self._perform)
            await conns.guard.__anext__()
        return conns

    # --- running flows: every step through `perform`, on one connection ------------------
    def _wire(self, cmd: Cmd) -> Cmd:
        head = cmd[0]
        if type(head) is Script:
            return ("EVALSHA", head.sha, 1, self.prefix, *cmd[1:])
        if type(head) is Source:  # sent whole: must not fail for want of a loaded script
            return ("EVAL", head.script.source, 1, self.prefix, *cmd[1:])
        return cmd

    # The hot path. Driving a flow through core.steps instead of a hand-written loop was
    # measured with the wire stubbed out: ~0.1 us more per sync call, ~0.3 us per async
    # call (run_async's own frame), under 1% of a localhost round trip and invisible in
    # bench/run.py. To get there: each connection's `perform` is made once, `_call`
    # itself reloads lost scripts and undoes cancelled ones (no extra frame per step), and
    # errors are translated by try/except (`with self._errors` costs two calls).
    def _drive_sync(self, flow: Flow) -> Any:
        try:
            return run_sync(flow, self._sync_perform())
        except RedisError as exc:
            raise self._errors.translate(exc) from exc

    def _perform_sync(self, conn: Any, step: Cmd | Pipe) -> Any:
        if type(step) is Pipe:
            return self._pipe_sync(conn, step)
        wire = self._wire(step)  # type: ignore[arg-type]
        try:
            return _call_sync(conn, wire)
        except NoScriptError:  # the server restarted or flushed its script cache
            _call_sync(conn, ("SCRIPT", "LOAD", step[0].source))  # type: ignore[index]
            return _call_sync(conn, wire)

    async def _drive(self, flow: Flow) -> Any:
        conns = self._loops.get(asyncio.get_running_loop()) or await self._loop_conns()
        conn = conns.take()
        try:
            return await run_async(flow, conns.performs[conn])
        except RedisError as exc:
            raise self._errors.translate(exc) from exc
        finally:
            conns.idle.append(conn)

    def _perform(self, conns: _LoopConns, conn: Any, step: Cmd | Pipe) -> Awaitable[Any]:
        # A plain function handing back the call's own coroutine: no extra frame per step.
        if type(step) is Pipe:
            return self._pipe(conns, conn, step)
        return _call(conn, self._wire(step), step, self._wired_undo)  # type: ignore[arg-type]

    def _wired_undo(self, cmd: Cmd, reply: Any) -> Cmd | None:
        undo = self._undo(cmd, reply)
        return None if undo is None else self._wire(undo)

    def _pipe_sync(self, conn: Any, pipe: Pipe) -> list[Any]:
        """Send a pipeline's commands in one write and read every reply."""
        wires = [self._wire(c) for c in pipe.cmds]
        replies = _call_many_sync(conn, wires)
        for i in _lost_scripts(replies):
            _call_sync(conn, ("SCRIPT", "LOAD", pipe.cmds[i][0].source))
            replies[i] = _call_sync(conn, wires[i])
        return replies

    async def _pipe(self, conns: _LoopConns, conn: Any, pipe: Pipe) -> list[Any]:
        """`_pipe_sync` on an asyncio connection, which a cancelled caller may leave blocked."""
        wires = [self._wire(c) for c in pipe.cmds]
        try:
            replies = await _call_many(conn, wires)
        except _CancelledPipe as stop:
            await self._unblock(conns, conn, pipe, wires, stop)
        for i in _lost_scripts(replies):
            await _call(conn, ("SCRIPT", "LOAD", pipe.cmds[i][0].source))
            replies[i] = await _call(conn, wires[i])
        return replies

    async def _unblock(
        self, conns: _LoopConns, conn: Any, pipe: Pipe, wires: list[Cmd], stop: _CancelledPipe
    ) -> NoReturn:
        """Our caller is gone while a sent pipeline blocks: end the block through another
        connection, read what the rest of the pipeline did and undo it (a fetch's leases),
        then raise the cancellation. Without a way to unblock, drop the connection."""
        try:
            if pipe.unblock is None or not stop.sent:
                raise stop.cancel
            other = conns.take()
            try:
                unblock = [self._wire(c) for c in pipe.unblock]
                await asyncio.wait_for(_call_many(other, unblock), 5.0)
            finally:
                conns.idle.append(other)
            replies = stop.replies
            rest = wires[len(replies) :]
            replies += await asyncio.wait_for(_read_many(conn, len(rest)), 5.0)
            for c in pipe.cleanup:
                await _call(conn, self._wire(c))
            for c, reply in zip(pipe.cmds, replies, strict=True):
                undo = None if isinstance(reply, RedisError) else self._undo(c, reply)
                if undo is not None:
                    await _call(conn, self._wire(undo))
        except BaseException:
            await conn.disconnect(nowait=True)  # out of step, or a second cancellation
        raise stop.cancel from None

    # --- closing --------------------------------------------------------------------------
    async def _close_connections(self) -> None:
        current = asyncio.get_running_loop()
        with self._lock:
            loops, self._loops = list(self._loops.items()), weakref.WeakKeyDictionary()
        for loop, conns in loops:
            if loop is current:
                await conns.guard.aclose()
            elif loop.is_running():  # another live loop owns those sockets: close there
                asyncio.run_coroutine_threadsafe(conns.guard.aclose(), loop)
        self._close_connections_sync()

    def _close_connections_sync(self) -> None:
        """Close the sync connections, and have each live event loop (the portal's) close
        its own: a client that only ever closes the sync way leaves no socket open."""
        with self._lock:
            conns, self._conns, self._epoch = list(self._conns), weakref.WeakSet(), object()
            loops, self._loops = list(self._loops.items()), weakref.WeakKeyDictionary()
        for conn in conns:
            conn.disconnect()
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for loop, loop_conns in loops:
            if loop.is_running():
                done = asyncio.run_coroutine_threadsafe(loop_conns.guard.aclose(), loop)
                if loop is not here:  # wait for it (briefly), unless that would block it
                    with contextlib.suppress(Exception):
                        done.result(timeout=1.0)


class _LoopConns:
    """Connections of one event loop: a plain free list (one loop, no lock).

    `guard` is an async generator started on that loop, so a loop that ends without
    `close()` (e.g. each `asyncio.run()`) still closes them: the loop's shutdown of
    async generators runs its `finally` while the loop can still await.
    """

    __slots__ = ("all", "factory", "guard", "idle", "perform", "performs")

    def __init__(self, factory: redis.asyncio.ConnectionPool, perform: Callable[..., Any]) -> None:
        self.factory = factory
        self.perform = perform  # (conns, conn, step) -> awaitable
        self.idle: list[Any] = []
        self.all: list[Any] = []
        #: each connection's `perform`, made once
        self.performs: dict[Any, Callable[[Cmd | Pipe], Awaitable[Any]]] = {}
        self.guard = self._guard()

    async def _guard(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            conns, self.all, self.idle, self.performs = self.all, [], [], {}
            for conn in conns:
                await conn.disconnect()

    def take(self) -> Any:
        if self.idle:
            return self.idle.pop()
        conn = self.factory.make_connection()  # type: ignore[no-untyped-call]  # redis-py: untyped
        self.all.append(conn)
        self.performs[conn] = partial(self.perform, self, conn)
        return conn


def _call_sync(conn: Any, wire: Cmd) -> Any:
    packed = [_pack(wire)] if _pack is not None else conn.pack_command(*wire)

    def attempt() -> Any:
        try:
            conn.send_packed_command(packed, check_health=False)
            return conn.read_response()
        except RedisError:
            raise
        except BaseException:  # interrupted mid-reply: the stream is out of step
            conn.disconnect()
            raise

    return conn.retry.call_with_retry(attempt, lambda _: conn.disconnect())


def _call_many_sync(conn: Any, wires: list[Cmd]) -> list[Any]:
    packed = [_pack(w) for w in wires] if _pack is not None else conn.pack_commands(wires)

    def attempt() -> list[Any]:
        try:
            conn.send_packed_command(packed, check_health=False)
            out: list[Any] = []
            for _ in wires:
                try:
                    out.append(conn.read_response())
                except ResponseError as exc:  # read every reply: the stream stays in step
                    out.append(exc)
            return out
        except RedisError:
            raise
        except BaseException:
            conn.disconnect()
            raise

    result: list[Any] = conn.retry.call_with_retry(attempt, lambda _: conn.disconnect())
    return result


async def _call(
    conn: Any,
    wire: Cmd,
    cmd: Cmd | None = None,
    undo: Callable[[Cmd, Any], Cmd | None] | None = None,
) -> Any:
    """Send one command and read its reply. With `cmd` (the command before wiring), a
    script the server lost is loaded and sent again, and a script cancelled after it
    reached Redis is given back with `undo(cmd, reply)` (a wired command, or None)."""
    packed = [_pack(wire)] if _pack is not None else conn.pack_command(*wire)
    sent = False

    async def attempt() -> Any:
        nonlocal sent
        sent = False
        await conn.send_packed_command(packed, check_health=False)
        sent = True
        return await conn.read_response(disconnect_on_error=False)

    try:
        return await conn.retry.call_with_retry(attempt, lambda _: conn.disconnect())
    except NoScriptError:  # the server restarted or flushed its script cache
        if cmd is None:
            raise
        await _call(conn, ("SCRIPT", "LOAD", cmd[0].source))
        return await _call(conn, wire, cmd, undo)
    except asyncio.CancelledError as cancel:
        # A script runs whole once sent: read its reply (so the connection stays in step
        # and it can be undone). Anything else, e.g. a blocked BLPOP, is dropped.
        if sent and wire[0] == "EVALSHA":
            try:
                reply = await conn.read_response(disconnect_on_error=False)
            except BaseException:
                await conn.disconnect(nowait=True)
                raise cancel from None
            fix = None if cmd is None or undo is None else undo(cmd, reply)
            if fix is not None:  # the script ran, but our caller is gone
                await _call(conn, fix)
            raise cancel from None
        await conn.disconnect(nowait=True)
        raise


class _CancelledPipe(BaseException):
    """A pipeline was cancelled; `sent`: it reached Redis, `replies`: those read."""

    def __init__(self, cancel: asyncio.CancelledError, sent: bool, replies: list[Any]) -> None:
        self.cancel, self.sent, self.replies = cancel, sent, replies


def _lost_scripts(replies: list[Any]) -> list[int]:
    """Which replies of a pipeline say the server lost the script (it restarted or flushed
    its cache): the caller loads and redoes those. Any other error reply is raised."""
    lost = []
    for i, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            lost.append(i)
        elif isinstance(reply, RedisError):
            raise reply
    return lost


async def _read_many(conn: Any, n: int, out: list[Any] | None = None) -> list[Any]:
    """Read `n` replies into `out`, error replies included (the stream stays in step)."""
    out = [] if out is None else out
    for _ in range(n):
        try:
            out.append(await conn.read_response(disconnect_on_error=False))
        except ResponseError as exc:  # read every reply: the stream stays in step
            out.append(exc)
    return out


async def _call_many(conn: Any, wires: list[Cmd]) -> list[Any]:
    packed = [_pack(w) for w in wires] if _pack is not None else conn.pack_commands(wires)
    sent = False
    out: list[Any] = []

    async def attempt() -> list[Any]:
        nonlocal sent
        sent = False
        out.clear()
        await conn.send_packed_command(packed, check_health=False)
        sent = True
        return await _read_many(conn, len(wires), out)

    try:
        result: list[Any] = await conn.retry.call_with_retry(attempt, lambda _: conn.disconnect())
        return result
    except asyncio.CancelledError as cancel:
        raise _CancelledPipe(cancel, sent, out) from None


_LIVE: weakref.WeakSet[RedisDriver] = weakref.WeakSet()
_ORPHANS: list[Any] = []  # a forked child's copies of its parent's connections


def _after_fork() -> None:
    for driver in list(_LIVE):
        # Kept, not collected: their finalizers would act on the parent's sockets.
        _ORPHANS.append((driver._loops, driver._conns))
        driver._reset()


os.register_at_fork(after_in_child=_after_fork)

__all__ = ["RedisDriver", "map_exceptions"]
