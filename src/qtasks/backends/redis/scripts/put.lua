-- ARGV: ttl ms, n, [uuid, value, settled ("1" or "")]*n. Store records without queueing
-- them. A settled record (final, or handed over to a retry) expires after the ttl and is
-- pushed to its waiters; any other keeps the queue bookkeeping (member, lease token,
-- waited) of the record it replaces, so a queued or leased task stays queued or leased.

local ttl, n, ks = ARGV[1], tonumber(ARGV[2]), {}
for j = 1, n do ks[j] = P .. 't:' .. ARGV[(j - 1) * 3 + 3] end
local raws = redis.call('MGET', unpack(ks))
for j = 1, n do
  local b, raw = (j - 1) * 3 + 3, raws[j]
  local value = ARGV[b + 1]
  if ARGV[b + 2] == '1' then
    redis.call('SET', ks[j], value, 'PX', ttl)
    if raw and (head(raw) or {})[8] then done(ARGV[b], value) end
  else
    local h = raw and head(raw)
    if h then
      local nh, rest = head(value)
      nh[5], nh[6], nh[8] = h[5], h[6], h[8]
      value = cjson.encode(nh) .. rest
    end
    redis.call('SET', ks[j], value)
  end
end
