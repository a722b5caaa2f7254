-- Lease deadlines and due times use the server's clock, so workers with skewed clocks
-- agree on them; `updated_at` is the caller's clock, passed in.

local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
