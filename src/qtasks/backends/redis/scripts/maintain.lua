-- ARGV: queue, updated

local n = recover(ARGV[1], now_s(), 1000, ARGV[2])
if n > 0 then wake(ARGV[1]) end
return n
