-- ARGV: n, [uuid, token, queue]*n, lease seconds. Renew the leases still ours; a task
-- requeued when its lease expired and not taken since is taken back (its worker is
-- alive after all), so it does not run twice.

local deadline, leases, back, mset = now_s() + tonumber(ARGV[#ARGV]), {}, {}, {}
each_leased(function(k, h, rest, id, queue)
  if h[1] == 'process' then
    push(leases, queue, deadline, id)
  elseif redis.call('ZREM', P .. 'q:' .. queue, h[5]) == 1 then
    h[1] = 'process'
    mset[#mset + 1] = k; mset[#mset + 1] = cjson.encode(h) .. rest
    push(back, queue, deadline, id)
  end
end)
for queue, args in pairs(leases) do redis.call('ZADD', P .. 'l:' .. queue, 'XX', unpack(args)) end
if #mset > 0 then redis.call('MSET', unpack(mset)) end
for queue, args in pairs(back) do redis.call('ZADD', P .. 'l:' .. queue, unpack(args)) end
