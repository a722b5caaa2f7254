"""The Redis backend's operations, each written once as a flow: a generator that yields
commands, scripts or a `Pipe` (see `commands.py`) and receives their replies. The driver
runs a flow for sync and async callers alike; nothing here does I/O.

Writes are Lua scripts (`scripts/*.lua`; EVALSHA, one round trip each, atomic). Idle
waits block in Redis (BLPOP/BLMOVE) with the command that follows the wake-up pipelined
behind the block, so nothing polls. Key layout, delivery and costs:
docs/backends/redis.md.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import time
from collections.abc import Sequence
from typing import Any

from qtasks.backends.redis import codec
from qtasks.backends.redis import scripts as lua
from qtasks.backends.redis.commands import BLOCK_CHUNK, Cmd, Flow, Pipe, Source, once
from qtasks.core import codec as serialization
from qtasks.core.models import Completion, DeadLetter, Delivery, TaskRecord, progress_moved
from qtasks.core.status import SETTLED_STATUSES
from qtasks.exc import ArgumentTypeError, ConfigError

_ENQUEUE_CHUNK = 1000  # records per script call: bounds how long Redis is busy
# While ready tasks fill every fetch, a fetch still requeues expired leases and moves due
# delayed tasks this often (per process and queue); a fetch they do not fill always does.
_TIMERS_EVERY = 0.05
_fetch_numbers = itertools.count(1)
_once = once


class FetchPace:
    """What one backend object remembers between fetches, per queue."""

    __slots__ = ("drained", "timers_at")

    def __init__(self) -> None:
        #: queue -> when a fetch next runs the timers even if ready tasks fill it
        self.timers_at: dict[str, float] = {}
        #: queue -> when a timer comes due (monotonic), while the last fetch here left no
        #: ready task behind
        self.drained: dict[str, float] = {}


# --- client side ----------------------------------------------------------------------------
def enqueue(records: Sequence[TaskRecord]) -> Flow:
    if len(records) == 1 and records[0].eta is None:  # the common case, slimmest script
        yield (lua.ENQUEUE_ONE, *codec.enqueue_one_args(records[0]))
        return
    # Encode every chunk before the first write: bad input stores nothing.
    chunks = [
        codec.enqueue_args(records[i : i + _ENQUEUE_CHUNK])
        for i in range(0, len(records), _ENQUEUE_CHUNK)
    ]
    for args in chunks:
        yield (lua.ENQUEUE, *args)


def get(prefix: str, uuid: str) -> Flow:
    return codec.parse(uuid, (yield ("GET", prefix + "t:" + uuid)))


def wait_final(prefix: str, uuid: str, timeout: float) -> Flow:
    deadline = time.monotonic() + timeout
    done = prefix + "done:" + uuid
    while True:
        remaining = deadline - time.monotonic()
        if remaining < 0.001:  # Redis reads a 0 timeout as "forever": just look
            record = codec.parse(uuid, (yield ("GET", prefix + "t:" + uuid)))
            if record is None or record.status in SETTLED_STATUSES:
                return record
            return None
        # One write: mark the task as waited for and read it, then block on done:{uuid}
        # where its completion pushes the final value (WATCH pushes it there itself
        # when the task is already final or unknown, so the block ends at once).
        # Rotating the list instead of popping it lets every waiter of a task read it.
        block = min(remaining, BLOCK_CHUNK)
        raw, pushed = yield Pipe(
            (Source(lua.WATCH), uuid), ("BLMOVE", done, done, "RIGHT", "RIGHT", block)
        )
        record = codec.parse(uuid, raw)
        if record is None or record.status in SETTLED_STATUSES:
            return record
        if pushed:
            record = codec.record(uuid, pushed)
            if record.status in SETTLED_STATUSES:
                return record


def wait_progress(prefix: str, uuid: str, seen: Any, timeout: float) -> Flow:
    """Read the record and the id of the last entry of its stream ev:{uuid} in one step
    (marking the task as waited for progress), return it once `progress_moved`, else
    block on the stream from that id: each write of the running task adds an entry."""
    deadline = time.monotonic() + timeout
    stream = prefix + "ev:" + uuid
    while True:
        raw, last = yield (lua.WATCH, uuid, "p")
        record = codec.parse(uuid, raw or None)
        if progress_moved(record, seen):
            return record
        remaining = deadline - time.monotonic()
        if remaining < 0.001:  # Redis reads a 0 block as "forever"
            return None
        block_ms = max(1, int(min(remaining, BLOCK_CHUNK) * 1000))
        yield ("XREAD", "BLOCK", block_ms, "STREAMS", stream, last)


def cancel(uuid: str, reason: str, ttl: float) -> Flow:
    ttl_ms = int(ttl * 1000)
    return codec.parse(uuid, (yield (lua.CANCEL, uuid, reason, ttl_ms, time.time())))


def cancel_requests(uuids: Sequence[str]) -> Flow:
    return _pairs((yield (lua.CANCEL_REQUESTS, *uuids)))


def put(records: Sequence[TaskRecord], ttl: float) -> Flow:
    args: list[Any] = [int(ttl * 1000), len(records)]
    for r in records:  # all encoded first: bad input stores nothing
        args += (r.uuid, codec.final_value(r), "1" if r.status in SETTLED_STATUSES else "")
        args += (r.task_name, repr(r.created_at))
    yield (lua.PUT, *args)


# --- worker side ----------------------------------------------------------------------------
def fetch(
    prefix: str,
    pace: FetchPace,
    queue: str,
    limit: int,
    lease: float,
    worker_id: str,
    wait: float,
    ttl: float,
) -> Flow:
    """Lease up to `limit` tasks (see `Broker.fetch`); `ttl`: the result ttl, which a task
    dead-lettered on the way (it cannot be decoded) is kept for."""
    if limit < 1:
        return []
    ttl_ms = int(ttl * 1000)
    deadline = time.monotonic() + wait
    # Unique per fetch: worker ids are unique per process and run; a counter instead
    # of random bytes keeps a syscall (and a GIL hand-off to task threads) off the path.
    token = f"{worker_id}:{next(_fetch_numbers):x}"
    # When the last fetch here left no ready task, go straight to the block below: a
    # task queued since then left a wake-up token, so the block ends at once and the
    # fetch behind it takes the task. Else fetch first: a backlog that other workers
    # are working off need not have a token.
    due = pace.drained.get(queue)  # when a delayed task or a lease comes due
    out = None
    if due is None or wait < 0.001:
        flags, now = 0, time.monotonic()
        if now >= pace.timers_at.get(queue, 0.0):
            pace.timers_at[queue] = now + _TIMERS_EVERY
            flags = 1
        out = yield (lua.FETCH, queue, limit, lease, token, time.time(), flags, ttl_ms)
    wake = stop = ""
    while True:
        if out is not None:
            if len(out) < 2 * limit + 1:  # the ready tasks ran out
                due = time.monotonic() + max(float(out[0]), 0.0) if out[0] else math.inf
                pace.drained[queue] = due
            else:
                pace.drained.pop(queue, None)
            if len(out) > 1:
                return (yield from _deliveries(out, token, queue, ttl_ms))
        now = time.monotonic()
        remaining = min(deadline - now, (due or now) - now + 0.002)
        if remaining < 0.001:
            if deadline - now < 0.001:
                return []
            out = yield (lua.FETCH, queue, limit, lease, token, time.time(), 1, ttl_ms)
            continue
        if not wake:
            wake, stop = prefix + "w:" + queue, prefix + "s:" + token
        # Block for a wake-up token with the next fetch queued behind it in one write:
        # Redis runs the fetch as soon as the block ends, so a woken worker gets its
        # tasks in the same reply, without another round trip. A cancelled wait is
        # ended by pushing to `stop` (see the driver's _unblock); flags: timers and "woken".
        ahead = (lua.FETCH, queue, limit, lease, token, "", 3, ttl_ms)
        _, out = yield Pipe(
            ("BLPOP", wake, stop, min(remaining, BLOCK_CHUNK)),
            ahead,
            unblock=(("RPUSH", stop, "1"), ("PEXPIRE", stop, 60000)),
            cleanup=(("DEL", stop),),
        )


def _deliveries(out: list[Any], token: str, queue: str, ttl_ms: int) -> Flow:
    """The deliveries of a fetch's reply. The script took only tasks whose header it could
    read; one whose body cannot be decoded here is dead-lettered (one more script call)
    and the others are delivered."""
    got: list[Delivery] = []
    bad: list[Any] = []
    for i in range(1, len(out), 2):
        try:
            got.append(Delivery(codec.record(out[i], out[i + 1]), token))
        except codec.Undecodable as exc:
            bad += (out[i], token, queue, exc.reason)
    if bad:
        yield (lua.BURY, ttl_ms, time.time(), len(bad) // 4, *bad)
    return got


def complete(completions: Sequence[Completion], ttl: float) -> Flow:
    ttl_ms = int(ttl * 1000)
    calls = []
    for i in range(0, len(completions), _ENQUEUE_CHUNK // 2):
        chunk = completions[i : i + _ENQUEUE_CHUNK // 2]
        args: list[Any] = [ttl_ms, len(chunk)]
        for c in chunk:
            args += (
                c.record.uuid,
                c.delivery.token,
                c.delivery.record.queue,
                codec.final_value(c.record),
                c.dead_letter or "",
                len(c.followups),
                repr(c.record.created_at),  # its score in the listing index
            )
        calls.append(args + codec.enqueue_args([f for c in chunk for f in c.followups]))
    for args in calls:  # all encoded first: bad input stores nothing
        yield (lua.COMPLETE, *args)


def _leases_args(deliveries: Sequence[Delivery]) -> list[Any]:
    out: list[Any] = [len(deliveries)]
    for d in deliveries:
        out += (d.record.uuid, d.token, d.record.queue)
    return out


def ack(deliveries: Sequence[Delivery]) -> Flow:
    yield (lua.ACK, *_leases_args(deliveries))


def extend(deliveries: Sequence[Delivery], lease: float) -> Flow:
    yield (lua.EXTEND, *_leases_args(deliveries), lease)


def release(deliveries: Sequence[Delivery]) -> Flow:
    yield (lua.RELEASE, *_leases_args(deliveries), time.time())


def maintain(queue: str, ttl: float) -> Flow:
    yield (lua.MAINTAIN, queue, time.time(), int(ttl * 1000))


def undo(cmd: Cmd, reply: Any) -> Cmd | None:
    """What gives back the effect of a script whose caller was cancelled: a fetch's leases."""
    if cmd[0] is not lua.FETCH or len(reply) < 2:
        return None
    _, queue, _limit, _lease, token, updated, _flags, _ttl = cmd
    args: list[Any] = [(len(reply) - 1) // 2]
    for i in range(1, len(reply), 2):
        args += (reply[i], token, queue)
    args.append(updated)
    # Sent whole (EVAL): the driver runs an undo once, without loading a lost script.
    return (Source(lua.RELEASE), *args)


# --- administration -------------------------------------------------------------------------
def purge(prefix: str) -> Flow:
    pattern = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in prefix) + "*"
    cursor: Any = 0
    while True:
        cursor, keys = yield ("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        if keys:
            yield ("UNLINK", *keys)
        if int(cursor) == 0:
            return


# --- dead letters ----------------------------------------------------------------------------
_DL_CHUNK = 500  # dead letters per script call when requeueing


def dead_letters(limit: int, offset: int, ttl: float) -> Flow:
    if limit < 0 or offset < 0:
        raise ConfigError(
            f"dead_letters(limit={limit}, offset={offset}): limit and offset must be >= 0"
        )
    if limit == 0:
        return []
    out = yield (lua.DL_READ, int(ttl * 1000), offset, limit)
    return _dead_letters(out)


def _dead_letters(out: list[Any]) -> list[DeadLetter]:
    return [codec.dead_letter(out[i], out[i + 1], out[i + 2]) for i in range(0, len(out), 3)]


def requeue_dead_letters(uuids: Sequence[str] | None, ttl: float) -> Flow:
    """Read the dead letters, build their requeued records here (the body is Python's),
    then queue each one whose record is still the one read."""
    if _no_uuids(uuids, "requeue_dead_letters"):
        return 0
    ttl_ms = int(ttl * 1000)
    out = yield (lua.DL_READ, ttl_ms, 0, -1, *(uuids or ()))
    now = time.time()
    args: list[Any] = []
    for i in range(0, len(out), 3):
        dead = codec.dead_letter(out[i], out[i + 1], out[i + 2])
        if dead.record is None:  # not decodable: nothing to queue, it stays listed
            continue
        r = codec.requeued(dead.record, now)
        m = codec.member(r)
        args += (r.uuid, out[i + 2], r.queue, m, "" if r.eta is None else r.eta)
        args.append(codec.new_value(r, m))
    count = 0
    step = 6 * _DL_CHUNK
    for j in range(0, len(args), step):
        chunk = args[j : j + step]
        count += yield (lua.DL_REQUEUE, len(chunk) // 6, *chunk)
    return count


def _no_uuids(uuids: Sequence[str] | None, what: str) -> bool:
    """True for an empty selection (nothing to do); `ArgumentTypeError` for one string."""
    if isinstance(uuids, (str, bytes)):
        raise ArgumentTypeError(f"{what}(uuids=...) takes a list of uuids, not one string")
    return uuids is not None and not uuids


def purge_dead_letters(uuids: Sequence[str] | None) -> Flow:
    if _no_uuids(uuids, "purge_dead_letters"):
        return 0
    return (yield (lua.DL_PURGE, *(uuids or ())))


def stats(queue: str) -> Flow:
    ready, delayed, leased = yield (lua.STATS, queue)
    return {"queued": ready + delayed, "delayed": delayed, "leased": leased}


def register_worker(worker_id: str, info: dict[str, Any], ttl: float) -> Flow:
    yield (lua.WORKER, worker_id, serialization.dumps(info), ttl)


def unregister_worker(worker_id: str) -> Flow:
    yield (lua.WORKER, worker_id, "", "")


def live_workers() -> Flow:
    out = yield (lua.LIVE_WORKERS,)
    if not out:
        return []
    return [
        dict(serialization.loads(info), worker_id=wid.decode())
        for wid, info in zip(out[0], out[1], strict=True)
        if info is not None
    ]


# --- shared settings (QTasks 1.7's global config hashes) --------------------------------------
def settings_set(name: str, key: str, value: Any, ttl: float | None) -> Flow:
    ttl_ms = "" if ttl is None else int(ttl * 1000)
    yield (lua.SETTINGS_SET, name, key, _setting_value(value), ttl_ms)


def settings_get(prefix: str, key: str, name: str) -> Flow:
    value = yield ("HGET", prefix + "gc:" + key, name)
    return None if value is None else value.decode()


def settings_get_all(prefix: str, key: str) -> Flow:
    return _pairs((yield ("HGETALL", prefix + "gc:" + key)))


def settings_get_match(match: str) -> Flow:
    out = yield (lua.SETTINGS_ALL,)
    names = [n.decode() for n in out[0::2]]
    return {
        n: _pairs(h) for n, h in zip(names, out[1::2], strict=True) if fnmatch.fnmatchcase(n, match)
    }


def _setting_value(value: Any) -> Any:
    # Strings and numbers are stored as text, like the original; anything else as JSON.
    if isinstance(value, (str, bytes, int, float)) and not isinstance(value, bool):
        return value
    return serialization.dumps(value, what="global config value")


def _pairs(found: list[bytes] | dict[bytes, bytes]) -> dict[str, str]:
    if not isinstance(found, dict):  # the async parser already pairs an HGETALL reply
        found = dict(zip(found[0::2], found[1::2], strict=True))
    return {k.decode(): v.decode() for k, v in found.items()}


__all__ = [
    "FetchPace", "ack", "cancel", "cancel_requests", "complete", "dead_letters", "enqueue",
    "extend", "fetch", "get", "live_workers", "maintain", "purge", "purge_dead_letters", "put",
    "register_worker", "release", "requeue_dead_letters",
    "settings_get", "settings_get_all", "settings_get_match", "settings_set", "stats", "undo",
    "unregister_worker", "wait_final", "wait_progress",
]  # fmt: skip
