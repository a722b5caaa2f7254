"""`redis://` and `rediss://`: broker and storage on one Redis server (redis-py + hiredis).

Every operation is written once, as a generator ("flow") that yields Redis commands (or
a `Pipe` of commands sent in one write) and receives their replies; `_drive_sync` runs it
on a sync connection and `_drive` on an asyncio one, so the sync client twins need no
portal and no event loop. Writes are Lua scripts (`redis_lua.py`; EVALSHA, one round
trip each, atomic); idle waits block in Redis (BLPOP/BLMOVE) with the command that
follows the wake-up pipelined behind the block, nothing polls. Key layout, delivery and
costs: docs/backends/redis.md.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, ClassVar, NoReturn

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from qtasks.backends import redis_lua as lua
from qtasks.backends.base import DEFAULT_QUEUE, Backend, Completion, Delivery, TaskRecord, redact
from qtasks.backends.redis_lua import Cmd, Flow
from qtasks.core import codec as serialization
from qtasks.exc import BackendError, BackendUnavailableError

_pack: Callable[[tuple[Any, ...]], bytes] | None
try:
    from hiredis import pack_command as _pack
except ImportError:  # redis-py's own packer then
    _pack = None

# Longest single block in Redis; longer waits loop, so a dead server is noticed within
# socket_timeout instead of hanging on a half-open TCP connection.
_BLOCK_CHUNK = 5.0
_SOCKET_TIMEOUT = _BLOCK_CHUNK + 10.0
# Retries after a lost connection: 10 ms doubling up to 1 s, ~6 s in all, which covers
# a Redis restart; a blocked fetch re-issues its BLPOP on the new connection.
_RETRIES = 12
# Notice a dead server (power loss, partition) under a blocked read within ~25 s.
_KEEPALIVE = {
    getattr(socket, opt): value
    for opt, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
    if hasattr(socket, opt)
}
_ENQUEUE_CHUNK = 1000  # records per script call: bounds how long Redis is busy
_FINAL_OR_RETRY = frozenset({"success", "error", "cancel", "retry"})
# While ready tasks fill every fetch, a fetch still requeues expired leases and moves due
# delayed tasks this often (per process and queue); a fetch they do not fill always does.
_TIMERS_EVERY = 0.05
_fetch_numbers = itertools.count(1)


class RedisBackend(Backend):
    schemes: ClassVar[tuple[str, ...]] = ("redis", "rediss")
    pushes: ClassVar[bool] = True

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.prefix = f"qtasks:{{{self.namespace}}}:"
        # queue -> when a fetch next runs the timers even if ready tasks fill it
        self._timers_at: dict[str, float] = {}
        # queue -> when a timer comes due (monotonic), while the last fetch here left no
        # ready task behind
        self._drained: dict[str, float] = {}
        self._local = threading.local()
        self._reset()
        _LIVE.add(self)

    # --- connections: lazy; sync: one per thread; async: a free list per event loop ------
    # Both skip redis-py's pool checkout and command layers, most of its per-call cost,
    # and keep its Connection classes (URL options, TLS, auth) and its Retry.
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

    def _sync_conn(self) -> Any:
        local = self._local
        if getattr(local, "epoch", None) is self._epoch:
            return local.conn
        with self._lock:
            if self._factory is None:
                retry = Retry(ExponentialBackoff(cap=1.0, base=0.01), _RETRIES)
                options = self._options(retry, _SOCKET_TIMEOUT)
                self._factory = redis.ConnectionPool.from_url(self.url, **options)
            conn = self._factory.make_connection()
            self._conns.add(conn)  # weak: the connection dies with its thread
            local.conn, local.epoch = conn, self._epoch
        return conn

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
            conns = self._loops[loop] = _LoopConns(self._afactory)
            await conns.guard.__anext__()
        return conns

    # --- drivers: run a flow on a sync or an async connection ----------------------------
    def _wire(self, cmd: Cmd) -> Cmd:
        head = cmd[0]
        if type(head) is lua.Script:
            return ("EVALSHA", head.sha, 1, self.prefix, *cmd[1:])
        if type(head) is lua.Source:  # sent whole: must not fail for want of a loaded script
            return ("EVAL", head.script.source, 1, self.prefix, *cmd[1:])
        return cmd

    def _error(self, exc: RedisError) -> BackendError:
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
            return BackendUnavailableError(f"Redis at {redact(self.url)} is unreachable: {exc}")
        return BackendError(f"Redis at {redact(self.url)} failed: {exc}")

    def _drive_sync(self, flow: Flow) -> Any:
        conn = self._sync_conn()
        try:
            cmd = next(flow)
            while True:
                if isinstance(cmd, lua.Pipe):
                    cmd = flow.send(self._pipe_sync(conn, cmd))
                    continue
                try:
                    reply = _call_sync(conn, self._wire(cmd))
                except NoScriptError:  # the server restarted or flushed its script cache
                    _call_sync(conn, ("SCRIPT", "LOAD", cmd[0].source))
                    continue
                cmd = flow.send(reply)
        except StopIteration as done:
            return done.value
        except RedisError as exc:
            raise self._error(exc) from exc

    async def _drive(self, flow: Flow) -> Any:
        conns = self._loops.get(asyncio.get_running_loop()) or await self._loop_conns()
        conn = conns.take()
        try:
            cmd = next(flow)
            while True:
                if isinstance(cmd, lua.Pipe):
                    cmd = flow.send(await self._pipe(conns, conn, cmd))
                    continue
                try:
                    reply = await _call(conn, self._wire(cmd))
                except NoScriptError:
                    await _call(conn, ("SCRIPT", "LOAD", cmd[0].source))
                    continue
                except _Cancelled as stop:  # the script ran, but our caller is gone
                    undo = lua.undo(cmd, stop.reply)
                    if undo is not None:
                        await _call(conn, self._wire(undo))
                    raise stop.cancel from None
                cmd = flow.send(reply)
        except StopIteration as done:
            return done.value
        except RedisError as exc:
            raise self._error(exc) from exc
        finally:
            conns.idle.append(conn)

    def _pipe_sync(self, conn: Any, pipe: lua.Pipe) -> list[Any]:
        """Send a pipeline's commands in one write and read every reply."""
        wires = [self._wire(c) for c in pipe.cmds]
        replies = _call_many_sync(conn, wires)
        for i in _lost_scripts(replies):
            _call_sync(conn, ("SCRIPT", "LOAD", pipe.cmds[i][0].source))
            replies[i] = _call_sync(conn, wires[i])
        return replies

    async def _pipe(self, conns: _LoopConns, conn: Any, pipe: lua.Pipe) -> list[Any]:
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
        self, conns: _LoopConns, conn: Any, pipe: lua.Pipe, wires: list[Cmd], stop: _CancelledPipe
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
                undo = None if isinstance(reply, RedisError) else lua.undo(c, reply)
                if undo is not None:
                    await _call(conn, self._wire(undo))
        except BaseException:
            await conn.disconnect(nowait=True)  # out of step, or a second cancellation
        raise stop.cancel from None

    # --- flows: each operation once ---------------------------------------------------------
    def _enqueue_flow(self, records: Sequence[TaskRecord]) -> Flow:
        if len(records) == 1 and records[0].eta is None:  # the common case, slimmest script
            yield (lua.ENQUEUE_ONE, *lua.enqueue_one_args(records[0]))
            return
        # Encode every chunk before the first write: bad input stores nothing.
        chunks = [
            lua.enqueue_args(records[i : i + _ENQUEUE_CHUNK])
            for i in range(0, len(records), _ENQUEUE_CHUNK)
        ]
        for args in chunks:
            yield (lua.ENQUEUE, *args)

    def _get_flow(self, uuid: str) -> Flow:
        return lua.parse(uuid, (yield ("GET", self.prefix + "t:" + uuid)))

    def _wait_flow(self, uuid: str, timeout: float) -> Flow:
        deadline = time.monotonic() + timeout
        done = self.prefix + "done:" + uuid
        while True:
            remaining = deadline - time.monotonic()
            if remaining < 0.001:  # Redis reads a 0 timeout as "forever": just look
                record = lua.parse(uuid, (yield ("GET", self.prefix + "t:" + uuid)))
                if record is None or record.status in _FINAL_OR_RETRY:
                    return record
                return None
            # One write: mark the task as waited for and read it, then block on done:{uuid}
            # where its completion pushes the final value (WATCH pushes it there itself
            # when the task is already final or unknown, so the block ends at once).
            # Rotating the list instead of popping it lets every waiter of a task read it.
            block = min(remaining, _BLOCK_CHUNK)
            raw, pushed = yield lua.Pipe(
                (lua.Source(lua.WATCH), uuid), ("BLMOVE", done, done, "RIGHT", "RIGHT", block)
            )
            record = lua.parse(uuid, raw)
            if record is None or record.status in _FINAL_OR_RETRY:
                return record
            if pushed:
                record = lua.record(uuid, pushed)
                if record.status in _FINAL_OR_RETRY:
                    return record

    def _cancel_flow(self, uuid: str, reason: str) -> Flow:
        ttl = int(self.config.result_ttl * 1000)
        return lua.parse(uuid, (yield (lua.CANCEL, uuid, reason, ttl, time.time())))

    def _fetch_flow(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> Flow:
        if limit < 1:
            return []
        deadline = time.monotonic() + wait
        # Unique per fetch: worker ids are unique per process and run; a counter instead
        # of random bytes keeps a syscall (and a GIL hand-off to task threads) off the path.
        token = f"{worker_id}:{next(_fetch_numbers):x}"
        # When the last fetch here left no ready task, go straight to the block below: a
        # task queued since then left a wake-up token, so the block ends at once and the
        # fetch behind it takes the task. Else fetch first: a backlog that other workers
        # are working off need not have a token.
        due = self._drained.get(queue)  # when a delayed task or a lease comes due
        out = None
        if due is None or wait < 0.001:
            flags, now = 0, time.monotonic()
            if now >= self._timers_at.get(queue, 0.0):
                self._timers_at[queue] = now + _TIMERS_EVERY
                flags = 1
            out = yield (lua.FETCH, queue, limit, lease, token, time.time(), flags)
        wake = stop = ""
        while True:
            if out is not None:
                if len(out) < 2 * limit + 1:  # the ready tasks ran out
                    due = time.monotonic() + max(float(out[0]), 0.0) if out[0] else math.inf
                    self._drained[queue] = due
                else:
                    self._drained.pop(queue, None)
                if len(out) > 1:
                    return [
                        Delivery(lua.record(out[i], out[i + 1]), token)
                        for i in range(1, len(out), 2)
                    ]
            now = time.monotonic()
            remaining = min(deadline - now, (due or now) - now + 0.002)
            if remaining < 0.001:
                if deadline - now < 0.001:
                    return []
                out = yield (lua.FETCH, queue, limit, lease, token, time.time(), 1)
                continue
            if not wake:
                wake, stop = self.prefix + "w:" + queue, self.prefix + "s:" + token
            # Block for a wake-up token with the next fetch queued behind it in one write:
            # Redis runs the fetch as soon as the block ends, so a woken worker gets its
            # tasks in the same reply, without another round trip. A cancelled wait is
            # ended by pushing to `stop` (see _unblock); flags: timers and "woken".
            fetch = (lua.FETCH, queue, limit, lease, token, "", 3)
            _, out = yield lua.Pipe(
                ("BLPOP", wake, stop, min(remaining, _BLOCK_CHUNK)),
                fetch,
                unblock=(("RPUSH", stop, "1"), ("PEXPIRE", stop, 60000)),
                cleanup=(("DEL", stop),),
            )

    def _complete_flow(self, completions: Sequence[Completion]) -> Flow:
        ttl = int(self.config.result_ttl * 1000)
        calls = []
        for i in range(0, len(completions), _ENQUEUE_CHUNK // 2):
            chunk = completions[i : i + _ENQUEUE_CHUNK // 2]
            args: list[Any] = [ttl, len(chunk)]
            for c in chunk:
                args += (c.record.uuid, c.delivery.token, c.delivery.record.queue)
                args.append(lua.final_value(c.record))
            calls.append(args + lua.enqueue_args([f for c in chunk for f in c.followups]))
        for args in calls:  # all encoded first: bad input stores nothing
            yield (lua.COMPLETE, *args)

    def _leases_args(self, deliveries: Sequence[Delivery]) -> list[Any]:
        out: list[Any] = [len(deliveries)]
        for d in deliveries:
            out += (d.record.uuid, d.token, d.record.queue)
        return out

    def _purge_flow(self) -> Flow:
        pattern = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in self.prefix) + "*"
        cursor: Any = 0
        while True:
            cursor, keys = yield ("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            if keys:
                yield ("UNLINK", *keys)
            if int(cursor) == 0:
                return

    def _stats_flow(self, queue: str) -> Flow:
        ready, delayed, leased = yield (lua.STATS, queue)
        return {"queued": ready + delayed, "delayed": delayed, "leased": leased}

    def _workers_flow(self) -> Flow:
        out = yield (lua.LIVE_WORKERS,)
        if not out:
            return []
        return [
            dict(serialization.loads(info), worker_id=wid.decode())
            for wid, info in zip(out[0], out[1], strict=True)
            if info is not None
        ]

    # --- async contract -----------------------------------------------------------------------
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        await self._drive(self._enqueue_flow(records))

    async def get(self, uuid: str) -> TaskRecord | None:
        return await self._drive(self._get_flow(uuid))

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        return await self._drive(self._wait_flow(uuid, timeout))

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        return await self._drive(self._cancel_flow(uuid, reason))

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        if not uuids:
            return {}
        return _pairs(await self._drive(_once((lua.CANCEL_REQUESTS, *uuids))))

    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        flow = self._fetch_flow(queue, limit, lease, worker_id, wait)
        return await self._drive(flow)

    async def complete(self, completions: Sequence[Completion]) -> None:
        if completions:
            await self._drive(self._complete_flow(completions))

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        if deliveries:
            await self._drive(_once((lua.EXTEND, *self._leases_args(deliveries), lease)))

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            args = self._leases_args(deliveries)
            await self._drive(_once((lua.RELEASE, *args, time.time())))

    async def recover_expired(self, queue: str) -> None:
        await self._drive(_once((lua.MAINTAIN, queue, time.time())))

    async def purge(self) -> None:
        await self._drive(self._purge_flow())

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        return await self._drive(self._stats_flow(queue))

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        await self._drive(_once((lua.WORKER, worker_id, serialization.dumps(info), ttl)))

    async def unregister_worker(self, worker_id: str) -> None:
        await self._drive(_once((lua.WORKER, worker_id, "", "")))

    async def live_workers(self) -> list[dict[str, Any]]:
        return await self._drive(self._workers_flow())

    async def close(self) -> None:
        current = asyncio.get_running_loop()
        with self._lock:
            loops, self._loops = list(self._loops.items()), weakref.WeakKeyDictionary()
        for loop, conns in loops:
            if loop is current:
                await conns.guard.aclose()
            elif loop.is_running():  # another live loop owns those sockets: close there
                asyncio.run_coroutine_threadsafe(conns.guard.aclose(), loop)
        self.close_sync()

    # --- sync client twins: the same flows on the sync client -------------------------------
    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._drive_sync(self._enqueue_flow(records))

    def get_sync(self, uuid: str) -> TaskRecord | None:
        return self._drive_sync(self._get_flow(uuid))

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        return self._drive_sync(self._wait_flow(uuid, timeout))

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        return self._drive_sync(self._cancel_flow(uuid, reason))

    def purge_sync(self) -> None:
        self._drive_sync(self._purge_flow())

    def live_workers_sync(self) -> list[dict[str, Any]]:
        return self._drive_sync(self._workers_flow())

    def close_sync(self) -> None:
        with self._lock:
            conns, self._conns, self._epoch = list(self._conns), weakref.WeakSet(), object()
        for conn in conns:
            conn.disconnect()

    # --- global config (the original's GlobalConfig hashes) ---------------------------------
    def _gc_set_flow(self, name: str, key: str, value: Any, ttl: float | None) -> Flow:
        ttl_ms = "" if ttl is None else int(ttl * 1000)
        yield (lua.GC_SET, name, key, _gc_value(value), ttl_ms)

    def _gc_get_flow(self, key: str, name: str) -> Flow:
        value = yield ("HGET", self.prefix + "gc:" + key, name)
        return None if value is None else value.decode()

    def _gc_all_flow(self, key: str) -> Flow:
        return _pairs((yield ("HGETALL", self.prefix + "gc:" + key)))

    def _gc_match_flow(self, match: str) -> Flow:
        out = yield (lua.GC_ALL,)
        names = [n.decode() for n in out[0::2]]
        return {
            n: _pairs(h)
            for n, h in zip(names, out[1::2], strict=True)
            if fnmatch.fnmatchcase(n, match)
        }

    async def gc_set(self, name: str, key: str, value: Any, ttl: float | None = None) -> None:
        await self._drive(self._gc_set_flow(name, key, value, ttl))

    async def gc_get(self, key: str, name: str) -> str | None:
        return await self._drive(self._gc_get_flow(key, name))

    async def gc_get_all(self, key: str) -> dict[str, str]:
        return await self._drive(self._gc_all_flow(key))

    async def gc_get_match(self, match: str) -> dict[str, dict[str, str]]:
        return await self._drive(self._gc_match_flow(match))

    def gc_set_sync(self, name: str, key: str, value: Any, ttl: float | None = None) -> None:
        self._drive_sync(self._gc_set_flow(name, key, value, ttl))

    def gc_get_sync(self, key: str, name: str) -> str | None:
        return self._drive_sync(self._gc_get_flow(key, name))

    def gc_get_all_sync(self, key: str) -> dict[str, str]:
        return self._drive_sync(self._gc_all_flow(key))

    def gc_get_match_sync(self, match: str) -> dict[str, dict[str, str]]:
        return self._drive_sync(self._gc_match_flow(match))


class _LoopConns:
    """Connections of one event loop: a plain free list (one loop, no lock).

    `guard` is an async generator started on that loop, so a loop that ends without
    `close()` (e.g. each `asyncio.run()`) still closes them: the loop's shutdown of
    async generators runs its `finally` while the loop can still await.
    """

    __slots__ = ("all", "factory", "guard", "idle")

    def __init__(self, factory: redis.asyncio.ConnectionPool) -> None:
        self.factory = factory
        self.idle: list[Any] = []
        self.all: list[Any] = []
        self.guard = self._guard()

    async def _guard(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            conns, self.all, self.idle = self.all, [], []
            for conn in conns:
                await conn.disconnect()

    def take(self) -> Any:
        if self.idle:
            return self.idle.pop()
        conn = self.factory.make_connection()
        self.all.append(conn)
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

    return conn.retry.call_with_retry(attempt, lambda _: conn.disconnect())


class _Cancelled(BaseException):
    """A script call was cancelled after it reached Redis; `reply` is what it did."""

    def __init__(self, reply: Any, cancel: asyncio.CancelledError) -> None:
        self.reply, self.cancel = reply, cancel


async def _call(conn: Any, wire: Cmd) -> Any:
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
    except asyncio.CancelledError as cancel:
        # A script runs whole once sent: read its reply (so the connection stays in step
        # and the caller can undo it). Anything else, e.g. a blocked BLPOP, is dropped.
        if sent and wire[0] == "EVALSHA":
            try:
                reply = await conn.read_response(disconnect_on_error=False)
            except BaseException:
                await conn.disconnect(nowait=True)
                raise cancel from None
            raise _Cancelled(reply, cancel) from None
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
        return await conn.retry.call_with_retry(attempt, lambda _: conn.disconnect())
    except asyncio.CancelledError as cancel:
        raise _CancelledPipe(cancel, sent, out) from None


_LIVE: weakref.WeakSet[RedisBackend] = weakref.WeakSet()


_ORPHANS: list[Any] = []  # a forked child's copies of its parent's connections


def _after_fork() -> None:
    for backend in list(_LIVE):
        # Kept, not collected: their finalizers would act on the parent's sockets.
        _ORPHANS.append((backend._loops, backend._conns))
        backend._reset()


os.register_at_fork(after_in_child=_after_fork)


def _once(cmd: Cmd) -> Flow:
    return (yield cmd)


def _gc_value(value: Any) -> Any:
    # Strings and numbers are stored as text, like the original; anything else as JSON.
    if isinstance(value, (str, bytes, int, float)) and not isinstance(value, bool):
        return value
    return serialization.dumps(value, what="global config value")


def _pairs(found: list[bytes] | dict[bytes, bytes]) -> dict[str, str]:
    if not isinstance(found, dict):  # the async parser already pairs an HGETALL reply
        found = dict(zip(found[0::2], found[1::2], strict=True))
    return {k.decode(): v.decode() for k, v in found.items()}


__all__ = ["RedisBackend"]
