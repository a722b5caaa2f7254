-- ARGV: queue, limit, lease seconds, token, updated ("": the server's clock, for a fetch
-- sent ahead to run when a block ends), flags, result ttl ms. flags: 1 = run the timers
-- (requeue expired leases, move due delayed tasks) even when the ready tasks fill the
-- limit (they always run when they do not); 2 = this fetch follows a wake-up token.
-- Returns {next, uuid, value, ...} where `next` is "" or, when the ready tasks ran out
-- before the limit, the seconds until a delayed task or a lease comes due.
-- A popped task whose header cannot be decoded is not delivered: it is dead-lettered
-- (see _dead) and the rest of the batch is taken as usual. Nothing after the pop can
-- raise, so no entry is popped without being leased or dead-lettered.

local queue, limit, token, updated = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5]
local flags, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
local rk, lk, zk = P .. 'q:' .. queue, P .. 'l:' .. queue, P .. 'z:' .. queue
local now = now_s()
if updated == '' then updated = string.format('%.6f', now) end
local deadline = now + tonumber(ARGV[3])
local out, got, moved = {''}, 0, 0
-- Pop up to `want` ready entries and lease those still `new` (an entry whose task was
-- cancelled, finished or expired meanwhile is dropped). Returns how many it popped.
local function take(want)
  local popped = redis.call('ZPOPMIN', rk, want)
  local n = #popped / 2
  if n == 0 then return 0 end
  local ids, ks = {}, {}
  for j = 1, n do
    -- member = 16 hex digits of priority, 16 of sequence (12 in older ones), then the uuid
    local m = popped[2 * j - 1]
    local id = string.sub(m, string.byte(m, 17) == 48 and 29 or 33)
    ids[j] = id; ks[j] = P .. 't:' .. id
  end
  local raws = redis.call('MGET', unpack(ks))
  local mset, leases = {}, {}
  for j = 1, n do
    local raw = raws[j]
    if raw then
      local h, rest = head(raw)
      local v
      if h and h[1] == 'new' then
        h[1], h[2], h[3], h[6] = 'process', h[2] + 1, updated, token
        v = encode(h)
        if not v then h, rest = nil, 'header cannot be written back' end
      end
      if not h then
        spoil(ids[j], queue, raw, rest, now, ttl, updated)
      elseif v then
        v = v .. rest
        mset[#mset + 1] = ks[j]; mset[#mset + 1] = v
        leases[#leases + 1] = deadline; leases[#leases + 1] = ids[j]
        out[#out + 1] = ids[j]; out[#out + 1] = v
        got = got + 1
      end
    end
  end
  if #mset > 0 then
    redis.call('MSET', unpack(mset))
    redis.call('ZADD', lk, unpack(leases))
  end
  return n
end
local function fill()
  while got < limit do
    local want = limit - got
    if take(want) < want then return end
  end
end
local function timers()
  local n = recover(queue, now, 100, updated, ttl)
  local due = redis.call('ZRANGEBYSCORE', zk, '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    redis.call('ZREM', zk, unpack(due))
    local args = {}
    for _, m in ipairs(due) do args[#args + 1] = 0; args[#args + 1] = m end
    redis.call('ZADD', rk, unpack(args))
  end
  return n + #due
end
local checked = flags % 2 == 1
if checked then moved = timers() end
fill()
if got < limit and not checked then
  moved = timers()
  if moved > 0 then fill() end
end
if got < limit then  -- the ready tasks ran out: when does a timer come due?
  local t
  local z = redis.call('ZRANGE', zk, 0, 0, 'WITHSCORES')
  local l = redis.call('ZRANGE', lk, 0, 0, 'WITHSCORES')
  if #z > 0 then t = tonumber(z[2]) end
  if #l > 0 and (t == nil or tonumber(l[2]) < t) then t = tonumber(l[2]) end
  if t then out[1] = tostring(t - now) end
elseif (flags >= 2 or moved > 0) and redis.call('ZCARD', rk) > 0 then
  -- Woken for work that is not all ours: pass the token on to the next idle worker.
  -- A fetch that was not woken needs not: whatever queued its tasks left a token.
  wake(queue)
end
return out
