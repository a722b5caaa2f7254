-- ARGV: ttl ms, offset, count, uuids... Returns {uuid, entry, record, ...} for the dead
-- letters `uuids`, or when none are given, `count` of them (-1: all) from `offset`,
-- newest first; record is false for a missing one. Entries that expired, and those of
-- an engine dead letter whose record expired, are dropped from the index on the way.

local ttl, offset, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local dl, now = P .. 'dl', now_s()
redis.call('ZREMRANGEBYSCORE', dl, '-inf', '(' .. string.format('%.6f', now - ttl / 1000))
local out, stale = {}, {}
local function read(ids)
  if #ids == 0 then return end
  local es, ts = {}, {}
  for j, id in ipairs(ids) do es[j] = P .. 'dl:' .. id; ts[j] = P .. 't:' .. id end
  local entries, records = redis.call('MGET', unpack(es)), redis.call('MGET', unpack(ts))
  for j, id in ipairs(ids) do
    local e = entries[j]
    if e and (records[j] or string.find(e, '\n', 1, true)) then
      out[#out + 1] = id; out[#out + 1] = e; out[#out + 1] = records[j]
    else
      stale[#stale + 1] = id
    end
  end
end
-- In chunks of 500, so that the index and the uuids given can be any size (unpack has
-- a limit).
if #ARGV > 3 then
  for j = 4, #ARGV, 500 do read({unpack(ARGV, j, math.min(j + 499, #ARGV))}) end
else
  local start = offset
  while count < 0 or #out < count * 3 do
    local want = 500
    if count >= 0 then want = math.min(want, count - #out / 3) end
    local chunk = redis.call('ZREVRANGE', dl, start, start + want - 1)
    read(chunk)
    if #chunk < want then break end
    start = start + want
  end
end
for j = 1, #stale, 500 do
  local part = {unpack(stale, j, math.min(j + 499, #stale))}
  redis.call('ZREM', dl, unpack(part))
  local ks = {}
  for i, id in ipairs(part) do ks[i] = P .. 'dl:' .. id end
  redis.call('DEL', unpack(ks))
end
return out
