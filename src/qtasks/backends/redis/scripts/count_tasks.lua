-- Returns {queue, status, count, ...} from the listing indexes (see _ix), for every
-- queue seen and every status; zero counts left out.

local out = {}
local statuses = {'new', 'process', 'success', 'error', 'cancel', 'retry'}
for _, queue in ipairs(redis.call('SMEMBERS', P .. 'xq')) do
  for _, s in ipairs(statuses) do
    local n = redis.call('ZCARD', P .. 'x:' .. s .. ':' .. queue)
    if n > 0 then out[#out + 1] = queue; out[#out + 1] = s; out[#out + 1] = n end
  end
end
return out
