-- Store and queue n records from ARGV[i]: uuid, queue, member, eta, value, task name,
-- created_at (7 each).
-- A call retried after a lost reply must not queue a task twice: existing keys are
-- skipped. Ready entries all score 0, so the member orders them (see `member`).

local function enqueue(i, n)
  if n == 0 then return end
  local ks = {}
  for j = 1, n do ks[j] = P .. 't:' .. ARGV[i + (j - 1) * 7] end
  local old = redis.call('MGET', unpack(ks))
  local mset, ready, delayed, now, ix = {}, {}, {}, nil, {queues = {}, names = {}}
  for j = 1, n do
    if not old[j] then
      local b = i + (j - 1) * 7
      local queue, eta = ARGV[b + 1], tonumber(ARGV[b + 3])
      mset[#mset + 1] = ks[j]; mset[#mset + 1] = ARGV[b + 4]
      if eta then now = now or now_s() end
      if eta and eta > now then push(delayed, queue, eta, ARGV[b + 2])
      else push(ready, queue, 0, ARGV[b + 2]) end
      ix_add(ix, ARGV[b], queue, ARGV[b + 5], ARGV[b + 6])
    end
  end
  if #mset == 0 then return end
  redis.call('MSET', unpack(mset))
  ix_write(ix)
  for queue, args in pairs(ready) do
    redis.call('ZADD', P .. 'q:' .. queue, unpack(args)); wake(queue)
  end
  for queue, args in pairs(delayed) do
    redis.call('ZADD', P .. 'z:' .. queue, unpack(args)); wake(queue)
  end
end
