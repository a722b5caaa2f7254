-- ARGV: ttl ms, updated, n, [uuid, token, queue, reason]*n. Dead-letter fetched tasks
-- whose body Python could not decode: each one still leased with that token loses its
-- lease, its record becomes `error` and its stored text is kept (see _dead). Returns
-- how many.

local ttl, updated, n, now, count = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), now_s(), 0
for j = 1, n do
  local b = (j - 1) * 4 + 4
  local id, queue = ARGV[b], ARGV[b + 2]
  local raw = redis.call('GET', P .. 't:' .. id)
  local h
  if raw then h = head(raw) end
  if h and h[1] == 'process' and h[6] == ARGV[b + 1] then
    redis.call('ZREM', P .. 'l:' .. queue, id)
    spoil(id, queue, raw, ARGV[b + 3], now, ttl, updated)
    count = count + 1
  end
end
return count
