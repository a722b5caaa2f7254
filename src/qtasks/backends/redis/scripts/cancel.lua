-- ARGV: uuid, reason, ttl ms, updated. A queued task ends now; for a running one the
-- reason is kept in the header's slot 7 for its worker (see cancel_requests).

local id = ARGV[1]
local k = P .. 't:' .. id
local raw = redis.call('GET', k)
if not raw then return false end
local h, rest = head(raw)
if not h then return false end
if h[1] == 'process' then
  h[7] = ARGV[2]
  local v = cjson.encode(h) .. rest
  redis.call('SET', k, v)
  return v
end
if h[1] ~= 'new' or h[5] == '' then return false end
if redis.call('ZREM', P .. 'q:' .. h[4], h[5]) + redis.call('ZREM', P .. 'z:' .. h[4], h[5]) == 0
then return false end
ix_move(h[4], {id}, 'new', 'cancel')
local waited = h[8]
h[1], h[3], h[5], h[6], h[7], h[8] = 'cancel', ARGV[4], '', '', ARGV[2], nil
local v = cjson.encode(h) .. rest
redis.call('SET', k, v, 'PX', ARGV[3])
if waited then done(id, v, waited) end
return v
