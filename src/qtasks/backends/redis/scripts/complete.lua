-- ARGV: ttl ms, n, [uuid, token, queue, value]*n, m, m records (see _ENQUEUE)

local ttl, n, leases = ARGV[1], tonumber(ARGV[2]), {}
for j = 1, n do
  local b = (j - 1) * 4 + 3
  local value = ARGV[b + 3]
  -- GET: the task as it was, in the same call
  local raw = redis.call('SET', P .. 't:' .. ARGV[b], value, 'PX', ttl, 'GET')
  if raw then
    local h = head(raw)
    if h[6] == ARGV[b + 1] then
      push(leases, ARGV[b + 2], ARGV[b])
    elseif h[1] == 'new' and h[5] ~= '' then
      -- Its lease expired and it was requeued, but it did finish: do not run it again.
      redis.call('ZREM', P .. 'q:' .. ARGV[b + 2], h[5])
    end
    if h[8] then done(ARGV[b], value) end
  end
end
for queue, ids in pairs(leases) do redis.call('ZREM', P .. 'l:' .. queue, unpack(ids)) end
local i = n * 4 + 3
enqueue(i + 1, tonumber(ARGV[i]))
