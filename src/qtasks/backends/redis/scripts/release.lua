-- ARGV: n, [uuid, token, queue]*n, updated. Give deliveries back to their queue and
-- their count back to `attempts` (see Delivery count in core/ports.py). One requeued
-- when its lease expired and not taken since is in its queue already.

local mset, ready, updated = {}, {}, ARGV[#ARGV]
each_leased(function(k, h, rest, id, queue)
  if h[1] == 'process' then
    redis.call('ZREM', P .. 'l:' .. queue, id)
    push(ready, queue, 0, h[5])
  end
  h[1], h[2], h[3], h[6] = 'new', math.max(h[2] - 1, 0), updated, ''
  mset[#mset + 1] = k; mset[#mset + 1] = cjson.encode(h) .. rest
end)
if #mset > 0 then redis.call('MSET', unpack(mset)) end
for queue, args in pairs(ready) do
  redis.call('ZADD', P .. 'q:' .. queue, unpack(args)); wake(queue)
end
