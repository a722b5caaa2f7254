-- ARGV: ttl ms, n, [uuid, token, queue, value, dead letter reason ("": none)]*n, m,
-- m records (see _ENQUEUE). Store the final record of each delivery still ours (a stale
-- holder's completion changes nothing), remove its lease or queue entry, dead-letter it
-- when a reason is given, and queue the follow-ups.

local ttl, n, ks, leases, now = tonumber(ARGV[1]), tonumber(ARGV[2]), {}, {}, nil
for j = 1, n do ks[j] = P .. 't:' .. ARGV[(j - 1) * 5 + 3] end
local raws = redis.call('MGET', unpack(ks))
for j = 1, n do
  local b, raw = (j - 1) * 5 + 3, raws[j]
  local h
  if raw then h = head(raw) end
  if h and ours(h, ARGV[b + 1]) then
    local id, queue, value, reason = ARGV[b], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
    redis.call('SET', ks[j], value, 'PX', ttl)
    if h[1] == 'process' then
      push(leases, queue, id)
    else  -- requeued when its lease expired, but it did finish: do not run it again
      redis.call('ZREM', P .. 'q:' .. queue, h[5])
    end
    if reason ~= '' then
      now = now or now_s()
      bury(id, queue, reason, now, ttl)
    end
    if h[8] then done(id, value) end
  end
end
for queue, ids in pairs(leases) do redis.call('ZREM', P .. 'l:' .. queue, unpack(ids)) end
local i = n * 5 + 3
enqueue(i + 1, tonumber(ARGV[i]))
