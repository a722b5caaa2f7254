-- ARGV: n, [uuid, token, queue]*n. Forget deliveries: remove the lease of each one still
-- leased with its token (and the token from its header, so extend and release ignore it
-- from now on), or the queue entry of one requeued since its lease expired. The records
-- stay as they are.

local n, ks, leases = tonumber(ARGV[1]), {}, {}
for j = 1, n do ks[j] = P .. 't:' .. ARGV[(j - 1) * 3 + 2] end
local raws = redis.call('MGET', unpack(ks))
for j = 1, n do
  local b, raw = (j - 1) * 3 + 2, raws[j]
  if raw then
    local h, rest = head(raw)
    if h[6] == ARGV[b + 1] then
      push(leases, ARGV[b + 2], ARGV[b])
      h[6] = ''
      redis.call('SET', ks[j], cjson.encode(h) .. rest, 'KEEPTTL')
    elseif h[1] == 'new' and h[5] ~= '' then
      redis.call('ZREM', P .. 'q:' .. ARGV[b + 2], h[5])
      redis.call('ZREM', P .. 'z:' .. ARGV[b + 2], h[5])
    end
  end
end
for queue, ids in pairs(leases) do redis.call('ZREM', P .. 'l:' .. queue, unpack(ids)) end
