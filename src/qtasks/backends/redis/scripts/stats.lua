-- ARGV: queue. Returns {ready, delayed, leased} counts.

local q = ARGV[1]
return {redis.call('ZCARD', P .. 'q:' .. q), redis.call('ZCARD', P .. 'z:' .. q),
  redis.call('ZCARD', P .. 'l:' .. q)}
