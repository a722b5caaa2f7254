"""The Redis backend's Lua scripts and stored task format (used by `redis.py`).

A task is one string `t:{uuid}`: a JSON header, a newline, a JSON body. The header is
[status, attempts, updated_at, queue, member, token, cancel_reason] and is what the
scripts read and rewrite (updated_at is text, so Lua's cjson never rounds it); the body
is written by Python only. Strings let a batch be read and written with one MGET/MSET,
which keeps Redis commands per task at one or two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Sequence
from typing import Any

from qtasks import serialization
from qtasks.backends.base import TaskRecord
from qtasks.exc import SerializationError

# Every script gets KEYS[1] = the namespace's sequence key (all keys share the
# `{namespace}` hash tag, so Redis Cluster routes them to one slot), ARGV[1] = the key
# prefix and ARGV[2] = the caller's clock for `updated_at`. Lease deadlines and due
# times use the server's clock, so workers with skewed clocks agree on them.
_PRELUDE = r"""
local P = ARGV[1]
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function head(raw)
  local i = string.find(raw, '\n', 1, true)
  return cjson.decode(string.sub(raw, 1, i - 1)), string.sub(raw, i)
end
-- Append a (and b, when given) to the list t[k]: arguments of one variadic command per key.
local function push(t, k, a, b)
  local l = t[k]
  if not l then l = {}; t[k] = l end
  l[#l + 1] = a
  if b ~= nil then l[#l + 1] = b end
end
local function task_keys(ids)
  local ks = {}
  for j, id in ipairs(ids) do ks[j] = P .. 't:' .. id end
  return ks
end
-- One token is enough: the worker it wakes wakes the next one if work remains.
local function wake(queue)
  local w = P .. 'w:' .. queue
  if redis.call('LLEN', w) == 0 then redis.call('RPUSH', w, '1') end
end
-- Hand a finished task to its wait_final callers: they block on this list.
local function done(id, value)
  local k = P .. 'done:' .. id
  redis.call('DEL', k)
  redis.call('RPUSH', k, value)
  redis.call('PEXPIRE', k, 30000)
end
local function zadd_each(kind, by_queue)
  for queue, args in pairs(by_queue) do
    redis.call('ZADD', P .. kind .. queue, unpack(args))
    if kind ~= 'l:' then wake(queue) end
  end
end
-- Store and queue n records from ARGV[i]: uuid, queue, prio, eta, updated, attempts, body.
-- A call retried after a lost reply must not queue a task twice, so existing keys are
-- skipped (MGET for a batch, SET NX for one record: one command fewer).
local function enqueue(i, n, now)
  if n == 0 then return end
  local ids = {}
  for j = 1, n do ids[j] = ARGV[i + (j - 1) * 7] end
  local ks = task_keys(ids)
  local old = n > 1 and redis.call('MGET', unpack(ks)) or {}
  local seq = redis.call('INCRBY', KEYS[1], n) - n
  local mset, ready, delayed = {}, {}, {}
  for j = 1, n do
    local b = i + (j - 1) * 7
    if not old[j] then
      local queue, eta = ARGV[b + 1], tonumber(ARGV[b + 3])
      seq = seq + 1
      -- Ready entries all score 0, so the member orders them: priority, then sequence.
      local m = ARGV[b + 2] .. string.format('%012x', seq) .. ids[j]
      local v = cjson.encode({'new', tonumber(ARGV[b + 5]), ARGV[b + 4], queue, m, '',
        cjson.null}) .. '\n' .. ARGV[b + 6]
      if n > 1 then
        mset[#mset + 1] = ks[j]; mset[#mset + 1] = v
      elseif not redis.call('SET', ks[j], v, 'NX') then
        return
      end
      if eta then now = now or now_s() end
      if eta and eta > now then push(delayed, queue, eta, m) else push(ready, queue, 0, m) end
    end
  end
  if #mset > 0 then redis.call('MSET', unpack(mset)) end
  zadd_each('q:', ready)
  zadd_each('z:', delayed)
end
-- Requeue tasks whose lease expired (their worker died): any worker may do it.
local function recover(queue, now, limit)
  local lk = P .. 'l:' .. queue
  local ids = redis.call('ZRANGEBYSCORE', lk, '-inf', now, 'LIMIT', 0, limit)
  if #ids == 0 then return 0 end
  redis.call('ZREM', lk, unpack(ids))
  local ks = task_keys(ids)
  local raws = redis.call('MGET', unpack(ks))
  local mset, ready = {}, {}
  for j, raw in ipairs(raws) do
    if raw then
      local h, rest = head(raw)
      if h[1] == 'process' and h[5] ~= '' then
        h[1], h[3], h[6] = 'new', ARGV[2], ''
        mset[#mset + 1] = ks[j]; mset[#mset + 1] = cjson.encode(h) .. rest
        push(ready, queue, 0, h[5])
      end
    end
  end
  if #mset > 0 then redis.call('MSET', unpack(mset)) end
  zadd_each('q:', ready)
  return #ids
end
"""


class Script:
    """A Lua script run by EVALSHA; loaded again when the server lost its cache."""

    __slots__ = ("sha", "source")

    def __init__(self, body: str) -> None:
        self.source = _PRELUDE + body
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


# ARGV[3..]: n, records
ENQUEUE = Script("enqueue(4, tonumber(ARGV[3]))")

# ARGV[3..]: queue, limit, lease seconds, token. Returns {next, uuid, value, ...} where
# `next` is "" or the seconds until a delayed task or a lease comes due.
FETCH = Script(r"""
local queue, limit, token = ARGV[3], tonumber(ARGV[4]), ARGV[6]
local rk, zk = P .. 'q:' .. queue, P .. 'z:' .. queue
local now = now_s()
recover(queue, now, 100)
local due = redis.call('ZRANGEBYSCORE', zk, '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  redis.call('ZREM', zk, unpack(due))
  local args = {}
  for _, m in ipairs(due) do args[#args + 1] = 0; args[#args + 1] = m end
  redis.call('ZADD', rk, unpack(args))
end
local out, got, deadline = {''}, 0, now + tonumber(ARGV[5])
while got < limit do
  local popped = redis.call('ZPOPMIN', rk, limit - got)
  if #popped == 0 then break end
  local ids = {}
  -- member = 16 hex digits of priority, 12 of sequence, then the uuid
  for j = 1, #popped, 2 do ids[#ids + 1] = string.sub(popped[j], 29) end
  local ks = task_keys(ids)
  local raws = redis.call('MGET', unpack(ks))
  local mset, leases = {}, {}
  for j, raw in ipairs(raws) do
    -- Skip entries whose record was cancelled, finished or expired meanwhile.
    if raw then
      local h, rest = head(raw)
      if h[1] == 'new' then
        h[1], h[2], h[3], h[6] = 'process', h[2] + 1, ARGV[2], token
        local v = cjson.encode(h) .. rest
        mset[#mset + 1] = ks[j]; mset[#mset + 1] = v
        push(leases, queue, deadline, ids[j])
        out[#out + 1] = ids[j]; out[#out + 1] = v
        got = got + 1
      end
    end
  end
  if #mset > 0 then redis.call('MSET', unpack(mset)) end
  zadd_each('l:', leases)
end
if got > 0 then
  if redis.call('ZCARD', rk) > 0 then wake(queue) end
else
  local t
  local z = redis.call('ZRANGE', zk, 0, 0, 'WITHSCORES')
  local l = redis.call('ZRANGE', P .. 'l:' .. queue, 0, 0, 'WITHSCORES')
  if #z > 0 then t = tonumber(z[2]) end
  if #l > 0 and (t == nil or tonumber(l[2]) < t) then t = tonumber(l[2]) end
  if t then out[1] = tostring(t - now) end
end
return out
""")

# ARGV[3..]: ttl ms, n, [uuid, token, queue, value]*n, m, records
COMPLETE = Script(r"""
local n, i, now = tonumber(ARGV[4]), 5, now_s()
if n > 0 then
  local ids = {}
  for j = 1, n do ids[j] = ARGV[i + (j - 1) * 4] end
  local ks = task_keys(ids)
  local raws = redis.call('MGET', unpack(ks))
  local waits = redis.call('ZMSCORE', P .. 'waiters', unpack(ids))
  local leases, queued = {}, {}
  for j = 1, n do
    local b = i + (j - 1) * 4
    if raws[j] then
      local h = head(raws[j])
      if h[6] == ARGV[b + 1] then
        push(leases, ARGV[b + 2], ids[j])
      elseif h[1] == 'new' and h[5] ~= '' then
        -- Its lease expired and it was requeued, but it did finish: do not run it again.
        push(queued, ARGV[b + 2], h[5])
      end
    end
    redis.call('SET', ks[j], ARGV[b + 3], 'PX', ARGV[3])
    if waits[j] and tonumber(waits[j]) > now then done(ids[j], ARGV[b + 3]) end
  end
  for queue, ms in pairs(leases) do redis.call('ZREM', P .. 'l:' .. queue, unpack(ms)) end
  for queue, ms in pairs(queued) do redis.call('ZREM', P .. 'q:' .. queue, unpack(ms)) end
  i = i + n * 4
end
enqueue(i + 1, tonumber(ARGV[i]), now)
""")

# Reads the records of deliveries ARGV[4..] = [uuid, token, queue]*ARGV[3] and yields
# those still leased with that token: (index, key, header, rest, uuid, queue).
_LEASED = r"""
local n, ids = tonumber(ARGV[3]), {}
for j = 1, n do ids[j] = ARGV[4 + (j - 1) * 3] end
local ks = task_keys(ids)
local raws = redis.call('MGET', unpack(ks))
local function each_leased(fn)
  for j = 1, n do
    if raws[j] then
      local h, rest = head(raws[j])
      local b = 4 + (j - 1) * 3
      if h[1] == 'process' and h[6] == ARGV[b + 1] then fn(ks[j], h, rest, ids[j], ARGV[b + 2]) end
    end
  end
end
"""

# ARGV[3..]: n, [uuid, token, queue]*n, lease seconds
EXTEND = Script(
    _LEASED
    + r"""
local deadline, leases = now_s() + tonumber(ARGV[#ARGV]), {}
each_leased(function(k, h, rest, id, queue) push(leases, queue, deadline, id) end)
for queue, args in pairs(leases) do redis.call('ZADD', P .. 'l:' .. queue, 'XX', unpack(args)) end
"""
)

# ARGV[3..]: n, [uuid, token, queue]*n
RELEASE = Script(
    _LEASED
    + r"""
local mset, ready = {}, {}
each_leased(function(k, h, rest, id, queue)
  redis.call('ZREM', P .. 'l:' .. queue, id)
  h[1], h[3], h[6] = 'new', ARGV[2], ''
  mset[#mset + 1] = k; mset[#mset + 1] = cjson.encode(h) .. rest
  push(ready, queue, 0, h[5])
end)
if #mset > 0 then redis.call('MSET', unpack(mset)) end
zadd_each('q:', ready)
"""
)

# ARGV[3..]: queue
MAINTAIN = Script("return recover(ARGV[3], now_s(), 1000)")

# ARGV[3..]: uuid, reason, ttl ms. A queued task ends now; for a running one the reason
# is kept in the header's last slot for its worker (see cancel_requests).
CANCEL = Script(r"""
local id = ARGV[3]
local k = P .. 't:' .. id
local raw = redis.call('GET', k)
if not raw then return false end
local h, rest = head(raw)
if h[1] == 'process' then
  h[7] = ARGV[4]
  local v = cjson.encode(h) .. rest
  redis.call('SET', k, v)
  return v
end
if h[1] ~= 'new' or h[5] == '' then return false end
if redis.call('ZREM', P .. 'q:' .. h[4], h[5]) + redis.call('ZREM', P .. 'z:' .. h[4], h[5]) == 0
then return false end
h[1], h[3], h[5], h[7] = 'cancel', ARGV[2], '', ARGV[4]
local v = cjson.encode(h) .. rest
redis.call('SET', k, v, 'PX', ARGV[5])
if redis.call('ZSCORE', P .. 'waiters', id) then done(id, v) end
return v
""")

# ARGV[3..]: uuids. Returns {uuid, reason, ...} for running tasks asked to cancel.
CANCEL_REQUESTS = Script(r"""
local ids = {}
for j = 3, #ARGV do ids[#ids + 1] = ARGV[j] end
local out = {}
for j, raw in ipairs(redis.call('MGET', unpack(task_keys(ids)))) do
  if raw then
    local h = head(raw)
    if h[1] == 'process' and h[7] ~= cjson.null then
      out[#out + 1] = ids[j]; out[#out + 1] = h[7]
    end
  end
end
return out
""")

# ARGV[3..]: uuid, seconds to stay registered. Register as a waiter and read the record
# in one step: a completion either came before (the record is final) or will push to
# done:{uuid}.
WATCH = Script(r"""
local now, w = now_s(), P .. 'waiters'
redis.call('ZREMRANGEBYSCORE', w, '-inf', now)
redis.call('ZADD', w, now + tonumber(ARGV[4]), ARGV[3])
return redis.call('GET', P .. 't:' .. ARGV[3])
""")

STATS = Script(r"""
local q = ARGV[3]
return {redis.call('ZCARD', P .. 'q:' .. q), redis.call('ZCARD', P .. 'z:' .. q),
  redis.call('ZCARD', P .. 'l:' .. q)}
""")

# Workers: ZSET workers (score = expiry), HASH winfo (id -> info JSON).
# ARGV[3..]: worker id, info, ttl seconds ("" = unregister)
WORKER = Script(r"""
local wk, wi, now = P .. 'workers', P .. 'winfo', now_s()
local dead = redis.call('ZRANGEBYSCORE', wk, '-inf', now)
if #dead > 0 then redis.call('ZREM', wk, unpack(dead)); redis.call('HDEL', wi, unpack(dead)) end
if ARGV[5] == '' then
  redis.call('ZREM', wk, ARGV[3]); redis.call('HDEL', wi, ARGV[3])
else
  redis.call('ZADD', wk, now + tonumber(ARGV[5]), ARGV[3]); redis.call('HSET', wi, ARGV[3], ARGV[4])
end
""")

LIVE_WORKERS = Script(r"""
local ids = redis.call('ZRANGEBYSCORE', P .. 'workers', '(' .. now_s(), '+inf')
if #ids == 0 then return {} end
return {ids, redis.call('HMGET', P .. 'winfo', unpack(ids))}
""")

# Global config: HASH gc:{name}, SET gcn of names (so get_match needs no SCAN).
# ARGV[3..]: name, key, value, ttl ms ("" = none)
GC_SET = Script(r"""
local k = P .. 'gc:' .. ARGV[3]
redis.call('HSET', k, ARGV[4], ARGV[5])
redis.call('SADD', P .. 'gcn', ARGV[3])
if ARGV[6] ~= '' then redis.call('PEXPIRE', k, ARGV[6]) end
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

# --- encoding ---------------------------------------------------------------------------
Cmd = tuple[Any, ...]  # (script or command name, args...)
Flow = Generator[Cmd, Any, Any]


def body(r: TaskRecord) -> bytes:
    """The part of a stored task only Python writes (JSON; never holds a raw newline)."""
    body = [r.task_name, r.priority, r.args, r.kwargs, r.created_at, r.returning]
    body += (r.traceback, r.extra, r.eta)
    try:
        return serialization.dumps(body, what="task record")
    except SerializationError:  # name the part that failed
        for what, value in (
            ("task args", r.args),
            ("task kwargs", r.kwargs),
            ("task result", r.returning),
            ("task extra fields", r.extra),
        ):
            serialization.dumps(value, what=what)
        raise


def final_value(r: TaskRecord) -> bytes:
    """A finished task as stored: no queue member, no lease token."""
    head = serialization.dumps([r.status, r.attempts, repr(r.updated_at), r.queue, "", "", None])
    return head + b"\n" + body(r)


def priority_prefix(priority: int) -> str:
    # Fixed-width hex of the priority shifted to unsigned, so byte order = numeric order.
    return format(min(max(int(priority) + 2**63, 0), 2**64 - 1), "016x")


def enqueue_args(records: Sequence[TaskRecord]) -> list[Any]:
    out: list[Any] = [len(records)]
    for r in records:
        eta = "" if r.eta is None else r.eta
        prio = priority_prefix(r.priority)
        out += (r.uuid, r.queue, prio, eta, repr(r.updated_at), r.attempts, body(r))
    return out


def parse(uuid: str, raw: bytes | None) -> TaskRecord | None:
    return None if raw is None else record(uuid, raw)


def record(uuid: str | bytes, raw: bytes) -> TaskRecord:
    head, _, body = raw.partition(b"\n")
    status, attempts, updated, queue, _member, _token, reason = serialization.loads(head)
    name, priority, args, kwargs, created, returning, tb, extra, eta = serialization.loads(body)
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
    _, queue, _limit, _lease, token = cmd
    args: list[Any] = [(len(reply) - 1) // 2]
    for i in range(1, len(reply), 2):
        args += (reply[i], token, queue)
    return (RELEASE, *args)


__all__ = [
    "CANCEL", "CANCEL_REQUESTS", "COMPLETE", "ENQUEUE", "EXTEND", "FETCH", "GC_ALL", "GC_SET",
    "LIVE_WORKERS", "MAINTAIN", "RELEASE", "STATS", "WATCH", "WORKER", "Cmd", "Flow", "Script",
    "enqueue_args", "final_value", "parse", "record", "undo",
]  # fmt: skip
