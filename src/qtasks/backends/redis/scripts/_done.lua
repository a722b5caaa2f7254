-- Hand a finished task to its waiters: wait_final callers read the list's last item;
-- waiters for progress (the mark 2 of header slot 8, see watch.lua) block on the stream
-- ev:{id}, which `progressed` adds an entry to (returning its id).

local function progressed(id, ttl)
  local ev = P .. 'ev:' .. id
  local entry = redis.call('XADD', ev, 'MAXLEN', '8', '*', 'w', '1')
  redis.call('PEXPIRE', ev, ttl)
  return entry
end

local function done(id, value, mark)
  local k = P .. 'done:' .. id
  redis.call('RPUSH', k, value)
  redis.call('PEXPIRE', k, 30000)
  if mark == 2 then progressed(id, 30000) end
end
