-- ARGV: queue, updated, result ttl ms

local n = recover(ARGV[1], now_s(), 1000, ARGV[2], tonumber(ARGV[3]))
if n > 0 then wake(ARGV[1]) end
sweep(5000)
return n
