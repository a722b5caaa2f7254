-- Workers: ZSET workers (score = expiry), HASH winfo (id -> info JSON).
-- ARGV: worker id, info, ttl seconds ("" = unregister)

local wk, wi, now = P .. 'workers', P .. 'winfo', now_s()
local dead = redis.call('ZRANGEBYSCORE', wk, '-inf', now)
if #dead > 0 then redis.call('ZREM', wk, unpack(dead)); redis.call('HDEL', wi, unpack(dead)) end
if ARGV[3] == '' then
  redis.call('ZREM', wk, ARGV[1]); redis.call('HDEL', wi, ARGV[1])
else
  redis.call('ZADD', wk, now + tonumber(ARGV[3]), ARGV[1]); redis.call('HSET', wi, ARGV[1], ARGV[2])
end
