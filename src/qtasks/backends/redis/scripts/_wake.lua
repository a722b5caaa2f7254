-- One token is enough: the worker it wakes passes it on if work remains.

local function wake(queue)
  local w = P .. 'w:' .. queue
  if redis.call('LLEN', w) == 0 then redis.call('RPUSH', w, '1') end
end
