-- ARGV: uuids (none: all). Forget dead letters; their records stay until they expire.
-- Returns how many entries were removed.

local dl, count, ids = P .. 'dl', 0, ARGV
if #ids == 0 then ids = redis.call('ZRANGE', dl, 0, -1) end
for j = 1, #ids, 500 do
  local part = {unpack(ids, j, math.min(j + 499, #ids))}
  redis.call('ZREM', dl, unpack(part))
  local ks = {}
  for i, id in ipairs(part) do ks[i] = P .. 'dl:' .. id end
  count = count + redis.call('DEL', unpack(ks))
end
return count
