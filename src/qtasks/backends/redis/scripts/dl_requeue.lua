-- ARGV: n, [uuid, stored value, queue, member, eta ("": none), new value]*n. Queue dead
-- letters again, each only if it is still listed and its record is still the value read
-- (else something changed it meanwhile: left alone). Returns how many were queued.

local n, count, now = tonumber(ARGV[1]), 0, nil
for j = 1, n do
  local b = (j - 1) * 6 + 2
  local id, queue, m, eta = ARGV[b], ARGV[b + 2], ARGV[b + 3], tonumber(ARGV[b + 4])
  local k = P .. 't:' .. id
  if redis.call('EXISTS', P .. 'dl:' .. id) == 1 and redis.call('GET', k) == ARGV[b + 1] then
    redis.call('SET', k, ARGV[b + 5])
    ix_move(queue, {id}, status_of(ARGV[b + 1]) or 'error', 'new')
    if eta then now = now or now_s() end
    if eta and eta > now then
      redis.call('ZADD', P .. 'z:' .. queue, eta, m)
    else
      redis.call('ZADD', P .. 'q:' .. queue, 0, m)
    end
    wake(queue)
    redis.call('DEL', P .. 'dl:' .. id)
    redis.call('ZREM', P .. 'dl', id)
    count = count + 1
  end
end
return count
