"""The Redis backend's Lua scripts and stored task format (used by `redis.py`).

A task is one string `t:{uuid}`: a JSON header, a newline, a JSON body. The header is
[status, attempts, updated_at, queue, member, token, cancel_reason(, waited)] and is
what the scripts read and rewrite (updated_at is text, so Lua's cjson never rounds it);
the body is written by Python only. Strings let a batch be read and written with one
MGET/MSET, which keeps Redis commands per task at one or two.

Each script is sent with KEYS[1] = the namespace's key prefix `qtasks:{ns}:` (its
`{ns}` hash tag routes every key of the namespace to one Redis Cluster slot) and
defines only the few Lua helpers it uses: Redis runs a script's whole body, helper
definitions included, on every EVALSHA.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Sequence
from typing import Any

import orjson

from qtasks.backends.base import TaskRecord
from qtasks.core import codec as serialization
from qtasks.exc import SerializationError

# --- Lua helpers, pasted into the scripts that use them ---------------------------------
# Lease deadlines and due times use the server's clock, so workers with skewed clocks
# agree on them; `updated_at` is the caller's clock, passed in.
_NOW = r"""
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""
_HEAD = r"""
local function head(raw)
  local i = string.find(raw, '\n', 1, true)
  return cjson.decode(string.sub(raw, 1, i - 1)), string.sub(raw, i)
end
"""
# Append a (and b, when given) to the list t[k]: arguments of one variadic command per key.
_PUSH = r"""
local function push(t, k, a, b)
  local l = t[k]
  if not l then l = {}; t[k] = l end
  l[#l + 1] = a
  if b ~= nil then l[#l + 1] = b end
end
"""
# One token is enough: the worker it wakes passes it on if work remains.
_WAKE = r"""
local function wake(queue)
  local w = P .. 'w:' .. queue
  if redis.call('LLEN', w) == 0 then redis.call('RPUSH', w, '1') end
end
"""
# Hand a finished task to its wait_final callers: they read the list's last item.
_DONE = r"""
local function done(id, value)
  local k = P .. 'done:' .. id
  redis.call('RPUSH', k, value)
  redis.call('PEXPIRE', k, 30000)
end
"""
# Store and queue n records from ARGV[i]: uuid, queue, member, eta, value (5 each).
# A call retried after a lost reply must not queue a task twice: existing keys are
# skipped. Ready entries all score 0, so the member orders them (see `member`).
_ENQUEUE = r"""
local function enqueue(i, n)
  if n == 0 then return end
  local ks = {}
  for j = 1, n do ks[j] = P .. 't:' .. ARGV[i + (j - 1) * 5] end
  local old = redis.call('MGET', unpack(ks))
  local mset, ready, delayed, now = {}, {}, {}, nil
  for j = 1, n do
    if not old[j] then
      local b = i + (j - 1) * 5
      local queue, eta = ARGV[b + 1], tonumber(ARGV[b + 3])
      mset[#mset + 1] = ks[j]; mset[#mset + 1] = ARGV[b + 4]
      if eta then now = now or now_s() end
      if eta and eta > now then push(delayed, queue, eta, ARGV[b + 2])
      else push(ready, queue, 0, ARGV[b + 2]) end
    end
  end
  if #mset == 0 then return end
  redis.call('MSET', unpack(mset))
  for queue, args in pairs(ready) do
    redis.call('ZADD', P .. 'q:' .. queue, unpack(args)); wake(queue)
  end
  for queue, args in pairs(delayed) do
    redis.call('ZADD', P .. 'z:' .. queue, unpack(args)); wake(queue)
  end
end
"""
# Requeue up to `limit` tasks of `queue` whose lease expired (their worker died); any
# worker may do it. `updated` is the caller's clock. Returns how many were requeued.
_RECOVER = r"""
local function recover(queue, now, limit, updated)
  local lk = P .. 'l:' .. queue
  local ids = redis.call('ZRANGEBYSCORE', lk, '-inf', now, 'LIMIT', 0, limit)
  if #ids == 0 then return 0 end
  redis.call('ZREM', lk, unpack(ids))
  local ks = {}
  for j, id in ipairs(ids) do ks[j] = P .. 't:' .. id end
  local raws = redis.call('MGET', unpack(ks))
  local mset, ready = {}, {}
  for j, raw in ipairs(raws) do
    if raw then
      local h, rest = head(raw)
      if h[1] == 'process' and h[5] ~= '' then
        h[1], h[3], h[6] = 'new', updated, ''
        mset[#mset + 1] = ks[j]; mset[#mset + 1] = cjson.encode(h) .. rest
        ready[#ready + 1] = 0; ready[#ready + 1] = h[5]
      end
    end
  end
  if #mset == 0 then return 0 end
  redis.call('MSET', unpack(mset))
  redis.call('ZADD', P .. 'q:' .. queue, unpack(ready))
  return #ready / 2
end
"""


class Script:
    """A Lua script run by EVALSHA; loaded again when the server lost its cache."""

    __slots__ = ("sha", "source")

    def __init__(self, body: str, *helpers: str) -> None:
        self.source = "local P = KEYS[1]\n" + "".join(helpers) + body
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


# One ready record (no eta), the common enqueue: SET NX, ZADD, the wake check.
# ARGV: uuid, queue, member, value
ENQUEUE_ONE = Script(r"""
if redis.call('SET', P .. 't:' .. ARGV[1], ARGV[4], 'NX') then
  redis.call('ZADD', P .. 'q:' .. ARGV[2], 0, ARGV[3])
  local w = P .. 'w:' .. ARGV[2]
  if redis.call('LLEN', w) == 0 then redis.call('RPUSH', w, '1') end
end
""")

# ARGV: n, records (see _ENQUEUE)
ENQUEUE = Script("enqueue(2, tonumber(ARGV[1]))", _NOW, _PUSH, _WAKE, _ENQUEUE)

# ARGV: queue, limit, lease seconds, token, updated ("": the server's clock, for a fetch
# sent ahead to run when a block ends), flags. flags: 1 = run the timers
# (requeue expired leases, move due delayed tasks) even when the ready tasks fill the
# limit (they always run when they do not); 2 = this fetch follows a wake-up token.
# Returns {next, uuid, value, ...} where `next` is "" or, when the ready tasks ran out
# before the limit, the seconds until a delayed task or a lease comes due.
FETCH = Script(
    r"""
local queue, limit, token, updated = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5]
local flags = tonumber(ARGV[6])
local rk, lk, zk = P .. 'q:' .. queue, P .. 'l:' .. queue, P .. 'z:' .. queue
local now = now_s()
if updated == '' then updated = string.format('%.6f', now) end
local deadline = now + tonumber(ARGV[3])
local out, got, moved = {''}, 0, 0
-- Pop up to `want` ready entries and lease those still `new` (an entry whose task was
-- cancelled, finished or expired meanwhile is dropped). Returns how many it popped.
local function take(want)
  local popped = redis.call('ZPOPMIN', rk, want)
  local n = #popped / 2
  if n == 0 then return 0 end
  local ids, ks = {}, {}
  for j = 1, n do
    -- member = 16 hex digits of priority, 16 of sequence (12 in older ones), then the uuid
    local m = popped[2 * j - 1]
    local id = string.sub(m, string.byte(m, 17) == 48 and 29 or 33)
    ids[j] = id; ks[j] = P .. 't:' .. id
  end
  local raws = redis.call('MGET', unpack(ks))
  local mset, leases = {}, {}
  for j = 1, n do
    local raw = raws[j]
    if raw then
      local h, rest = head(raw)
      if h[1] == 'new' then
        h[1], h[2], h[3], h[6] = 'process', h[2] + 1, updated, token
        local v = cjson.encode(h) .. rest
        mset[#mset + 1] = ks[j]; mset[#mset + 1] = v
        leases[#leases + 1] = deadline; leases[#leases + 1] = ids[j]
        out[#out + 1] = ids[j]; out[#out + 1] = v
        got = got + 1
      end
    end
  end
  if #mset > 0 then
    redis.call('MSET', unpack(mset))
    redis.call('ZADD', lk, unpack(leases))
  end
  return n
end
local function fill()
  while got < limit do
    local want = limit - got
    if take(want) < want then return end
  end
end
local function timers()
  local n = recover(queue, now, 100, updated)
  local due = redis.call('ZRANGEBYSCORE', zk, '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    redis.call('ZREM', zk, unpack(due))
    local args = {}
    for _, m in ipairs(due) do args[#args + 1] = 0; args[#args + 1] = m end
    redis.call('ZADD', rk, unpack(args))
  end
  return n + #due
end
local checked = flags % 2 == 1
if checked then moved = timers() end
fill()
if got < limit and not checked then
  moved = timers()
  if moved > 0 then fill() end
end
if got < limit then  -- the ready tasks ran out: when does a timer come due?
  local t
  local z = redis.call('ZRANGE', zk, 0, 0, 'WITHSCORES')
  local l = redis.call('ZRANGE', lk, 0, 0, 'WITHSCORES')
  if #z > 0 then t = tonumber(z[2]) end
  if #l > 0 and (t == nil or tonumber(l[2]) < t) then t = tonumber(l[2]) end
  if t then out[1] = tostring(t - now) end
elseif (flags >= 2 or moved > 0) and redis.call('ZCARD', rk) > 0 then
  -- Woken for work that is not all ours: pass the token on to the next idle worker.
  -- A fetch that was not woken needs not: whatever queued its tasks left a token.
  wake(queue)
end
return out
""",
    _NOW,
    _HEAD,
    _WAKE,
    _RECOVER,
)

# ARGV: ttl ms, n, [uuid, token, queue, value]*n, m, m records (see _ENQUEUE)
COMPLETE = Script(
    r"""
local ttl, n, leases = ARGV[1], tonumber(ARGV[2]), {}
for j = 1, n do
  local b = (j - 1) * 4 + 3
  local value = ARGV[b + 3]
  -- GET: the task as it was, in the same call
  local raw = redis.call('SET', P .. 't:' .. ARGV[b], value, 'PX', ttl, 'GET')
  if raw then
    local h = head(raw)
    if h[6] == ARGV[b + 1] then
      push(leases, ARGV[b + 2], ARGV[b])
    elseif h[1] == 'new' and h[5] ~= '' then
      -- Its lease expired and it was requeued, but it did finish: do not run it again.
      redis.call('ZREM', P .. 'q:' .. ARGV[b + 2], h[5])
    end
    if h[8] then done(ARGV[b], value) end
  end
end
for queue, ids in pairs(leases) do redis.call('ZREM', P .. 'l:' .. queue, unpack(ids)) end
local i = n * 4 + 3
enqueue(i + 1, tonumber(ARGV[i]))
""",
    _NOW,
    _HEAD,
    _PUSH,
    _WAKE,
    _DONE,
    _ENQUEUE,
)

# Reads the records of deliveries ARGV[2..] = [uuid, token, queue]*ARGV[1] and calls
# fn(key, header, rest, uuid, queue) for those still leased with that token.
_LEASED = r"""
local n, ks = tonumber(ARGV[1]), {}
for j = 1, n do ks[j] = P .. 't:' .. ARGV[(j - 1) * 3 + 2] end
local raws = redis.call('MGET', unpack(ks))
local function each_leased(fn)
  for j = 1, n do
    if raws[j] then
      local h, rest = head(raws[j])
      local b = (j - 1) * 3 + 2
      if h[1] == 'process' and h[6] == ARGV[b + 1] then fn(ks[j], h, rest, ARGV[b], ARGV[b + 2]) end
    end
  end
end
"""

# ARGV: n, [uuid, token, queue]*n, lease seconds
EXTEND = Script(
    r"""
local deadline, leases = now_s() + tonumber(ARGV[#ARGV]), {}
each_leased(function(k, h, rest, id, queue) push(leases, queue, deadline, id) end)
for queue, args in pairs(leases) do redis.call('ZADD', P .. 'l:' .. queue, 'XX', unpack(args)) end
""",
    _NOW,
    _HEAD,
    _PUSH,
    _LEASED,
)

# ARGV: n, [uuid, token, queue]*n, updated
RELEASE = Script(
    r"""
local mset, ready, updated = {}, {}, ARGV[#ARGV]
each_leased(function(k, h, rest, id, queue)
  redis.call('ZREM', P .. 'l:' .. queue, id)
  h[1], h[3], h[6] = 'new', updated, ''
  mset[#mset + 1] = k; mset[#mset + 1] = cjson.encode(h) .. rest
  push(ready, queue, 0, h[5])
end)
if #mset > 0 then redis.call('MSET', unpack(mset)) end
for queue, args in pairs(ready) do
  redis.call('ZADD', P .. 'q:' .. queue, unpack(args)); wake(queue)
end
""",
    _HEAD,
    _PUSH,
    _WAKE,
    _LEASED,
)

# ARGV: queue, updated
MAINTAIN = Script(
    r"""
local n = recover(ARGV[1], now_s(), 1000, ARGV[2])
if n > 0 then wake(ARGV[1]) end
return n
""",
    _NOW,
    _HEAD,
    _WAKE,
    _RECOVER,
)

# ARGV: uuid, reason, ttl ms, updated. A queued task ends now; for a running one the
# reason is kept in the header's slot 7 for its worker (see cancel_requests).
CANCEL = Script(
    r"""
local id = ARGV[1]
local k = P .. 't:' .. id
local raw = redis.call('GET', k)
if not raw then return false end
local h, rest = head(raw)
if h[1] == 'process' then
  h[7] = ARGV[2]
  local v = cjson.encode(h) .. rest
  redis.call('SET', k, v)
  return v
end
if h[1] ~= 'new' or h[5] == '' then return false end
if redis.call('ZREM', P .. 'q:' .. h[4], h[5]) + redis.call('ZREM', P .. 'z:' .. h[4], h[5]) == 0
then return false end
local waited = h[8]
h[1], h[3], h[5], h[7], h[8] = 'cancel', ARGV[4], '', ARGV[2], nil
local v = cjson.encode(h) .. rest
redis.call('SET', k, v, 'PX', ARGV[3])
if waited then done(id, v) end
return v
""",
    _HEAD,
    _DONE,
)

# ARGV: uuids. Returns {uuid, reason, ...} for running tasks asked to cancel.
CANCEL_REQUESTS = Script(
    r"""
local ks = {}
for j = 1, #ARGV do ks[j] = P .. 't:' .. ARGV[j] end
local out = {}
for j, raw in ipairs(redis.call('MGET', unpack(ks))) do
  if raw then
    local h = head(raw)
    if h[1] == 'process' and h[7] ~= cjson.null then
      out[#out + 1] = ARGV[j]; out[#out + 1] = h[7]
    end
  end
end
return out
""",
    _HEAD,
)

# ARGV: uuid. Read the task and, unless it is final, mark it as waited for (header slot
# 8) in the same step: its completion then pushes the final value to done:{uuid}. So a
# completion either came before (the value read is final) or will push. The caller
# blocks on done:{uuid} right after (same write), so when nothing will push there (the
# task is final already, or unknown: "") this pushes now; the first waiter of a task
# clears such an "unknown" left from a wait that came before the task existed.
WATCH = Script(
    r"""
local k, d = P .. 't:' .. ARGV[1], P .. 'done:' .. ARGV[1]
local raw = redis.call('GET', k)
if not raw then
  if redis.call('EXISTS', d) == 0 then
    redis.call('RPUSH', d, ''); redis.call('PEXPIRE', d, 1000)
  end
  return false
end
local h, rest = head(raw)
if h[1] == 'new' or h[1] == 'process' then
  if not h[8] then
    h[8] = 1
    redis.call('SET', k, cjson.encode(h) .. rest, 'KEEPTTL')
    redis.call('DEL', d)
  end
elseif redis.call('EXISTS', d) == 0 then
  done(ARGV[1], raw)
end
return raw
""",
    _HEAD,
    _DONE,
)

STATS = Script(r"""
local q = ARGV[1]
return {redis.call('ZCARD', P .. 'q:' .. q), redis.call('ZCARD', P .. 'z:' .. q),
  redis.call('ZCARD', P .. 'l:' .. q)}
""")

# Workers: ZSET workers (score = expiry), HASH winfo (id -> info JSON).
# ARGV: worker id, info, ttl seconds ("" = unregister)
WORKER = Script(
    r"""
local wk, wi, now = P .. 'workers', P .. 'winfo', now_s()
local dead = redis.call('ZRANGEBYSCORE', wk, '-inf', now)
if #dead > 0 then redis.call('ZREM', wk, unpack(dead)); redis.call('HDEL', wi, unpack(dead)) end
if ARGV[3] == '' then
  redis.call('ZREM', wk, ARGV[1]); redis.call('HDEL', wi, ARGV[1])
else
  redis.call('ZADD', wk, now + tonumber(ARGV[3]), ARGV[1]); redis.call('HSET', wi, ARGV[1], ARGV[2])
end
""",
    _NOW,
)

LIVE_WORKERS = Script(
    r"""
local ids = redis.call('ZRANGEBYSCORE', P .. 'workers', '(' .. now_s(), '+inf')
if #ids == 0 then return {} end
return {ids, redis.call('HMGET', P .. 'winfo', unpack(ids))}
""",
    _NOW,
)

# Global config: HASH gc:{name}, SET gcn of names (so get_match needs no SCAN).
# ARGV: name, key, value, ttl ms ("" = none)
GC_SET = Script(r"""
local k = P .. 'gc:' .. ARGV[1]
redis.call('HSET', k, ARGV[2], ARGV[3])
redis.call('SADD', P .. 'gcn', ARGV[1])
if ARGV[4] ~= '' then redis.call('PEXPIRE', k, ARGV[4]) end
""")

GC_ALL = Script(r"""
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', P .. 'gcn')) do
  local h = redis.call('HGETALL', P .. 'gc:' .. name)
  if #h == 0 then redis.call('SREM', P .. 'gcn', name) else
    out[#out + 1] = name; out[#out + 1] = h end
end
return out
""")

# --- commands ---------------------------------------------------------------------------
Cmd = tuple[Any, ...]  # (Script, Source or command name, args...)


class Source:
    """(Source(script), args...) runs the script by EVAL: it cannot fail as not loaded,
    for where a failure would leave the rest of a pipeline blocking."""

    __slots__ = ("script",)

    def __init__(self, script: Script) -> None:
        self.script = script


class Pipe:
    """Commands sent in one write; the flow receives the list of their replies.

    `unblock`: commands that end a block in this pipeline, sent on another connection
    when the caller is cancelled while it blocks; `cleanup`: run afterwards on this one.
    """

    __slots__ = ("cleanup", "cmds", "unblock")

    def __init__(
        self, *cmds: Cmd, unblock: Sequence[Cmd] | None = None, cleanup: Sequence[Cmd] = ()
    ) -> None:
        self.cmds, self.unblock, self.cleanup = cmds, unblock, cleanup


Flow = Generator[Cmd | Pipe, Any, Any]

# --- encoding ---------------------------------------------------------------------------

_dumps = serialization.dumps
# Headers hold only str, int, float and None, and records are read back from what we
# wrote: orjson without the wrappers' error naming.
_head_dumps = orjson.dumps
_loads = orjson.loads


def body(r: TaskRecord) -> bytes:
    """The part of a stored task only Python writes (JSON; never holds a raw newline)."""
    try:
        return _dumps(
            [r.task_name, r.priority, r.args, r.kwargs, r.created_at, r.returning, r.traceback,
             r.extra, r.eta],
            what="task record",
        )  # fmt: skip
    except SerializationError:  # name the part that failed
        for what, value in (
            ("task args", r.args),
            ("task kwargs", r.kwargs),
            ("task result", r.returning),
            ("task extra fields", r.extra),
        ):
            _dumps(value, what=what)
        raise


def final_value(r: TaskRecord) -> bytes:
    """A finished task as stored: no queue member, no lease token."""
    head = _head_dumps([r.status, r.attempts, repr(r.updated_at), r.queue, "", "", None])
    return head + b"\n" + body(r)


_PRIORITY: dict[int, str] = {}


def priority_prefix(priority: int) -> str:
    """Fixed-width hex of the priority shifted to unsigned, so byte order = numeric order."""
    prefix = _PRIORITY.get(priority)
    if prefix is None:
        prefix = format(min(max(int(priority) + 2**63, 0), 2**64 - 1), "016x")
        if len(_PRIORITY) < 256:
            _PRIORITY[priority] = prefix
    return prefix


_last_seq = 0


def member(r: TaskRecord) -> str:
    """A ready entry's member: priority, then a sequence, then the uuid.

    The sequence is this process's clock in nanoseconds, made strictly increasing:
    first in, first out within a priority for each producer, and across producers up
    to their clocks' skew (no shared counter to increment on the server). A priority
    prefix whose 17th character is "0" marks the 12-digit sequence of older versions.
    """
    global _last_seq
    seq = time.time_ns()
    if seq <= _last_seq:  # a coarse or stepped-back clock; racing threads may tie (no harm)
        seq = _last_seq + 1
    _last_seq = seq
    return f"{priority_prefix(r.priority)}{seq:016x}{r.uuid}"


def new_value(r: TaskRecord, m: str) -> bytes:
    """A queued task as stored."""
    head = _head_dumps(["new", r.attempts, repr(r.updated_at), r.queue, m, "", None])
    return head + b"\n" + body(r)


def enqueue_one_args(r: TaskRecord) -> tuple[Any, ...]:
    """ENQUEUE_ONE's arguments for a ready record (eta None)."""
    m = member(r)
    return (r.uuid, r.queue, m, new_value(r, m))


def enqueue_args(records: Sequence[TaskRecord]) -> list[Any]:
    out: list[Any] = [len(records)]
    for r in records:
        m = member(r)
        eta = "" if r.eta is None else r.eta
        out += (r.uuid, r.queue, m, eta, new_value(r, m))
    return out


def parse(uuid: str, raw: bytes | None) -> TaskRecord | None:
    return None if raw is None else record(uuid, raw)


def record(uuid: str | bytes, raw: bytes) -> TaskRecord:
    i = raw.index(b"\n")
    head = _loads(raw[:i])
    status, attempts, updated, queue, reason = head[0], head[1], head[2], head[3], head[6]
    name, priority, args, kwargs, created, returning, tb, extra, eta = _loads(raw[i + 1 :])
    if reason is not None:  # set by cancel: the reason, or a request to a running task
        extra["cancel_reason" if status == "cancel" else "cancel_requested"] = reason
    if isinstance(uuid, bytes):
        uuid = uuid.decode()
    return TaskRecord(
        uuid, name, priority, args, kwargs, status, created, float(updated), returning, tb,
        extra, eta, attempts, queue,
    )  # fmt: skip


def undo(cmd: Cmd, reply: Any) -> Cmd | None:
    """What gives back the effect of a script whose caller was cancelled: a fetch's leases."""
    if cmd[0] is not FETCH or len(reply) < 2:
        return None
    _, queue, _limit, _lease, token, updated, _flags = cmd
    args: list[Any] = [(len(reply) - 1) // 2]
    for i in range(1, len(reply), 2):
        args += (reply[i], token, queue)
    args.append(updated)
    return (RELEASE, *args)


__all__ = [
    "CANCEL", "CANCEL_REQUESTS", "COMPLETE", "ENQUEUE", "ENQUEUE_ONE", "EXTEND", "FETCH",
    "GC_ALL", "GC_SET", "LIVE_WORKERS", "MAINTAIN", "RELEASE", "STATS", "WATCH", "WORKER",
    "Cmd", "Flow", "Pipe", "Script", "Source", "enqueue_args", "enqueue_one_args",
    "final_value", "member", "parse", "record", "undo",
]  # fmt: skip
