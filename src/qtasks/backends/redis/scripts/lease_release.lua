-- Give a named lease up, only if the caller holds it. ARGV: name, holder.

local k = P .. 'lease:' .. ARGV[1]
if redis.call('GET', k) == ARGV[2] then redis.call('DEL', k) end
