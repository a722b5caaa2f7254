-- Requeue up to `limit` tasks of `queue` whose lease expired (their worker died); any
-- worker may do it. `updated` is the caller's clock. Returns how many were requeued.
-- The lease token stays in the header: until another fetch takes the task, its holder
-- may still ack, complete, extend or release it (see `ours`). A record that cannot be
-- decoded is dead-lettered (`ttl`: the result ttl, ms). The delivery count is kept.

local function recover(queue, now, limit, updated, ttl)
  local lk = P .. 'l:' .. queue
  local ids = redis.call('ZRANGEBYSCORE', lk, '-inf', now, 'LIMIT', 0, limit)
  if #ids == 0 then return 0 end
  redis.call('ZREM', lk, unpack(ids))
  local ks = {}
  for j, id in ipairs(ids) do ks[j] = P .. 't:' .. id end
  local raws = redis.call('MGET', unpack(ks))
  local mset, ready = {}, {}
  for j, raw in ipairs(raws) do
    if raw then
      local h, rest = head(raw)
      local v
      if h and h[1] == 'process' and h[5] ~= '' then
        h[1], h[3] = 'new', updated
        v = encode(h)
        if not v then h, rest = nil, 'header cannot be written back' end
      end
      if not h then
        spoil(ids[j], queue, raw, rest, now, ttl, updated)
      elseif v then
        mset[#mset + 1] = ks[j]; mset[#mset + 1] = v .. rest
        ready[#ready + 1] = 0; ready[#ready + 1] = h[5]
      end
    end
  end
  if #mset == 0 then return 0 end
  redis.call('MSET', unpack(mset))
  redis.call('ZADD', P .. 'q:' .. queue, unpack(ready))
  return #ready / 2
end
