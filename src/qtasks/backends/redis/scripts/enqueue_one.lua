-- One ready record (no eta), the common enqueue: SET NX, ZADD, the wake check.
-- ARGV: uuid, queue, member, value, task name, created_at

if redis.call('SET', P .. 't:' .. ARGV[1], ARGV[4], 'NX') then
  redis.call('ZADD', P .. 'q:' .. ARGV[2], 0, ARGV[3])
  local w = P .. 'w:' .. ARGV[2]
  if redis.call('LLEN', w) == 0 then redis.call('RPUSH', w, '1') end
  ix_new(ARGV[1], ARGV[2], ARGV[5], ARGV[6], 'new', ARGV[3])
end
