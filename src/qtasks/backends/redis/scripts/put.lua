-- ARGV: ttl ms, n, [uuid, value, settled ("1" or ""), task name, created_at]*n. Store
-- records without queueing them. A settled record (final, or handed over to a retry)
-- expires after the ttl and is pushed to its waiters; any other keeps the queue
-- bookkeeping (member, lease token, waited) of the record it replaces, so a queued or
-- leased task stays queued or leased. The listing indexes follow its status and queue.
-- A running task's write (its progress) wakes the waiters for progress (see watch.lua).

local ttl, n, ks = ARGV[1], tonumber(ARGV[2]), {}
for j = 1, n do ks[j] = P .. 't:' .. ARGV[(j - 1) * 5 + 3] end
local raws = redis.call('MGET', unpack(ks))
for j = 1, n do
  local b, raw = (j - 1) * 5 + 3, raws[j]
  local value = ARGV[b + 1]
  local h = raw and head(raw)
  local nh, rest = head(value)
  local member = (h and ARGV[b + 2] ~= '1') and h[5] or ''  -- what the record will keep
  local key = ix_key(nh[1], nh[4], member)
  local moved = not h or ix_key(h[1], h[4], h[5]) ~= key
  if h and moved then redis.call('ZREM', ix_key(h[1], h[4], h[5]), ARGV[b]) end
  if moved then ix_new(ARGV[b], nh[4], ARGV[b + 3], ARGV[b + 4], nh[1], member) end
  if ARGV[b + 2] == '1' then
    redis.call('SET', ks[j], value, 'PX', ttl)
    if h and h[8] then done(ARGV[b], value, h[8]) end
  else
    if h then
      -- a cancel request (slot 7) made meanwhile stays: the worker acts on it
      nh[5], nh[6], nh[8] = h[5], h[6], h[8]
      if nh[7] == cjson.null then nh[7] = h[7] end
      value = cjson.encode(nh) .. rest
    end
    redis.call('SET', ks[j], value)
    if h and h[8] == 2 then progressed(ARGV[b], 60000) end  -- a waiter for progress
  end
end
