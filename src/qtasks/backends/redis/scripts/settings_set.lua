-- Global config: HASH gc:{name}, SET gcn of names (so get_match needs no SCAN).
-- ARGV: name, key, value, ttl ms ("" = none)

local k = P .. 'gc:' .. ARGV[1]
redis.call('HSET', k, ARGV[2], ARGV[3])
redis.call('SADD', P .. 'gcn', ARGV[1])
if ARGV[4] ~= '' then redis.call('PEXPIRE', k, ARGV[4]) end
