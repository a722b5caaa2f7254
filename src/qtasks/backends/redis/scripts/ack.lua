-- ARGV: n, [uuid, token, queue]*n. Forget deliveries still ours: remove the lease (or
-- the queue entry of one requeued since its lease expired) and the token from the
-- header, so extend and release ignore it from now on. The records stay as they are.

local n, ks, leases = tonumber(ARGV[1]), {}, {}
for j = 1, n do ks[j] = P .. 't:' .. ARGV[(j - 1) * 3 + 2] end
local raws = redis.call('MGET', unpack(ks))
for j = 1, n do
  local b, raw = (j - 1) * 3 + 2, raws[j]
  local h, rest
  if raw then h, rest = head(raw) end
  if h and ours(h, ARGV[b + 1]) then
    if h[1] == 'process' then
      push(leases, ARGV[b + 2], ARGV[b])
    else
      redis.call('ZREM', P .. 'q:' .. ARGV[b + 2], h[5])
    end
    h[6] = ''
    redis.call('SET', ks[j], cjson.encode(h) .. rest, 'KEEPTTL')
  end
end
for queue, ids in pairs(leases) do redis.call('ZREM', P .. 'l:' .. queue, unpack(ids)) end
