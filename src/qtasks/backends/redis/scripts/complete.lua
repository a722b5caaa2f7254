-- ARGV: ttl ms, n, [uuid, token, queue, value, dead letter reason ("": none), k,
-- created_at]*n, m,
-- m records (see _ENQUEUE), the k follow-ups of each delivery in turn. Store the final
-- record of each delivery still ours, remove its lease or queue entry, dead-letter it
-- when a reason is given, and queue its follow-ups. A stale holder's completion changes
-- nothing, its follow-ups included: SET ... GET writes and reads the task in one command
-- (an MGET first costs more on this hot path), and a task that turns out not to be ours
-- is put back as it was; only a final one's expiry restarts.

local ttl, n, leases, now, moves = tonumber(ARGV[1]), tonumber(ARGV[2]), {}, nil, {}
local follow = n * 7 + 4  -- where the follow-ups of the next delivery start
for j = 1, n do
  local b = (j - 1) * 7 + 3
  local nf = tonumber(ARGV[b + 5])  -- its follow-ups
  local id, queue, value, reason = ARGV[b], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local k = P .. 't:' .. id
  local raw = redis.call('SET', k, value, 'PX', ttl, 'GET')
  local h
  if raw then h = head(raw) end
  if h and ours(h, ARGV[b + 1]) then
    ix_defer(moves, queue, id, h[1], status_of(value) or h[1], ARGV[b + 6])
    if h[1] == 'process' then
      push(leases, queue, id)
    else  -- requeued when its lease expired, but it did finish: do not run it again
      redis.call('ZREM', P .. 'q:' .. queue, h[5])
    end
    if reason ~= '' then
      now = now or now_s()
      bury(id, queue, reason, now, ttl)
    end
    if h[8] then done(id, value, h[8]) end
    enqueue(follow, nf)
  elseif not raw then  -- unknown (expired, purged): nothing to complete
    redis.call('DEL', k)
  elseif h and h[1] ~= 'process' and h[1] ~= 'new' then  -- final: it expired after ttl
    redis.call('SET', k, raw, 'PX', ttl)
  else  -- another worker's, or unreadable (then dead-lettered when its lease expires)
    redis.call('SET', k, raw)
  end
  follow = follow + nf * 7
end
for queue, ids in pairs(leases) do redis.call('ZREM', P .. 'l:' .. queue, unpack(ids)) end
ix_flush(moves)
