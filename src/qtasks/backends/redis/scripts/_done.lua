-- Hand a finished task to its wait_final callers: they read the list's last item. Its
-- waiters for progress, blocked on the stream ev:{id}, get an entry and read the record.

local function done(id, value)
  local k = P .. 'done:' .. id
  redis.call('RPUSH', k, value)
  redis.call('PEXPIRE', k, 30000)
  local ev = P .. 'ev:' .. id
  if redis.call('EXISTS', ev) == 1 then
    redis.call('XADD', ev, 'MAXLEN', '8', '*', 'w', '1')
    redis.call('PEXPIRE', ev, 30000)
  end
end
