-- ARGV: n, [uuid, token, queue]*n, lease seconds

local deadline, leases = now_s() + tonumber(ARGV[#ARGV]), {}
each_leased(function(k, h, rest, id, queue) push(leases, queue, deadline, id) end)
for queue, args in pairs(leases) do redis.call('ZADD', P .. 'l:' .. queue, 'XX', unpack(args)) end
