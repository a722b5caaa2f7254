-- A named lease (Coordination): STRING lease:{name} = holder, expiring with the lease.
-- Taken when free or already the holder's (a renewal); the server's clock decides.
-- ARGV: name, holder, ttl ms. Returns the server's time ("s.us") when held, nil if not.

local k = P .. 'lease:' .. ARGV[1]
local current = redis.call('GET', k)
if current and current ~= ARGV[2] then return false end
redis.call('SET', k, ARGV[2], 'PX', ARGV[3])
local t = redis.call('TIME')
return t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
