-- Reads the records of deliveries ARGV[2..] = [uuid, token, queue]*ARGV[1] and calls
-- fn(key, header, rest, uuid, queue) for those still `ours` (leased with that token, or
-- requeued when the lease expired and not taken since).

local n, ks = tonumber(ARGV[1]), {}
for j = 1, n do ks[j] = P .. 't:' .. ARGV[(j - 1) * 3 + 2] end
local raws = redis.call('MGET', unpack(ks))
local function each_leased(fn)
  for j = 1, n do
    if raws[j] then
      local h, rest = head(raws[j])
      local b = (j - 1) * 3 + 2
      if h and ours(h, ARGV[b + 1]) then fn(ks[j], h, rest, ARGV[b], ARGV[b + 2]) end
    end
  end
end
