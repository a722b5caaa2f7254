-- ARGV: n, [uuid, token, queue]*n, updated

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
