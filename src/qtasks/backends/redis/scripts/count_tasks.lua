-- Returns {queue, status, count, ...} for every queue seen and every status, zero counts
-- left out: settled statuses from their indexes (see _ix), `process` from the leases
-- (and the running records stored by `put` alone), `new` from the pending index less
-- the leases.

local out = {}
local function put(queue, s, n)
  if n > 0 then out[#out + 1] = queue; out[#out + 1] = s; out[#out + 1] = n end
end
for _, seen in ipairs(redis.call('SMEMBERS', P .. 'xs')) do
  if string.sub(seen, 1, 2) == 'q:' then
    local queue = string.sub(seen, 3)
    local leased = redis.call('ZCARD', P .. 'l:' .. queue)
    put(queue, 'new', math.max(redis.call('ZCARD', P .. 'x:pending:' .. queue) - leased, 0))
    put(queue, 'process', leased + redis.call('ZCARD', P .. 'x:process:' .. queue))
    for _, s in ipairs({'success', 'error', 'cancel', 'retry'}) do
      put(queue, s, redis.call('ZCARD', P .. 'x:' .. s .. ':' .. queue))
    end
  end
end
return out
