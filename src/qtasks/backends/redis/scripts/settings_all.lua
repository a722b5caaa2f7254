-- Returns {name, hash, ...} for every shared-settings hash; names whose hash expired
-- are dropped from gcn on the way.

local out = {}
for _, name in ipairs(redis.call('SMEMBERS', P .. 'gcn')) do
  local h = redis.call('HGETALL', P .. 'gc:' .. name)
  if #h == 0 then redis.call('SREM', P .. 'gcn', name) else
    out[#out + 1] = name; out[#out + 1] = h end
end
return out
