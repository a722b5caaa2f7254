-- ARGV: uuids. Returns {uuid, reason, ...} for running tasks asked to cancel.

local ks = {}
for j = 1, #ARGV do ks[j] = P .. 't:' .. ARGV[j] end
local out = {}
for j, raw in ipairs(redis.call('MGET', unpack(ks))) do
  if raw then
    local h = head(raw)
    if h and h[1] == 'process' and h[7] ~= cjson.null then
      out[#out + 1] = ARGV[j]; out[#out + 1] = h[7]
    end
  end
end
return out
