-- Hand a finished task to its wait_final callers: they read the list's last item.

local function done(id, value)
  local k = P .. 'done:' .. id
  redis.call('RPUSH', k, value)
  redis.call('PEXPIRE', k, 30000)
end
