-- Drop index members (see _ix) whose record expired: the oldest members of each
-- settled status's index, a hundred at a time while they are all gone (settled records
-- expire in about the order they were created), and a sample of each task name's index
-- (where pending tasks may stay in front). Stops after `budget` checks.

local function gone(ik, ids)
  local out = {}
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', P .. 't:' .. id) == 0 then out[#out + 1] = id end
  end
  if #out > 0 then redis.call('ZREM', ik, unpack(out)) end
  return #out
end

local function sweep(budget)
  local queues, names = {}, {}
  for _, seen in ipairs(redis.call('SMEMBERS', P .. 'xs')) do
    local kind, what = string.sub(seen, 1, 1), string.sub(seen, 3)
    if kind == 'q' then queues[#queues + 1] = what else names[#names + 1] = what end
  end
  for _, queue in ipairs(queues) do
    for _, s in ipairs({'success', 'error', 'cancel', 'retry'}) do
      local ik = P .. 'x:' .. s .. ':' .. queue
      while budget > 0 do
        local ids = redis.call('ZRANGE', ik, 0, 99)
        budget = budget - #ids
        if #ids == 0 or gone(ik, ids) < #ids then break end
      end
    end
  end
  for _, name in ipairs(names) do
    if budget <= 0 then return end
    local ik = P .. 'xn:' .. name
    local ids = redis.call('ZRANGE', ik, 0, 99)
    for _, id in ipairs(redis.call('ZRANDMEMBER', ik, 100)) do ids[#ids + 1] = id end
    budget = budget - #ids
    gone(ik, ids)
  end
end
