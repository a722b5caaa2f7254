-- Listing indexes (see inspect.py): ZSET x:pending:{queue} holds the uuids of the tasks
-- of `queue` not settled yet (new or running: the running ones are also in l:{queue}),
-- x:{status}:{queue} those of each settled status, xn:{name} those of each task name,
-- all scored by creation time; SET xs names the queues ("q:<queue>") and task names
-- ("n:<name>") seen.
-- Records stored by `put` alone (Redis as the result store of another broker: no queue
-- member, no lease) are in x:process:{queue} while running.
-- Only enqueueing and settling (complete, cancel, put, a requeue) touch them: a fetch,
-- a release or an expired lease does not. A record that expires leaves members that
-- the upkeep (`maintain`) and the listing drop.

local function ix_key(status, queue, member)
  if status == 'new' or (status == 'process' and member ~= '') then status = 'pending' end
  return P .. 'x:' .. status .. ':' .. queue
end

-- New tasks, gathered by ix_add and written by ix_write: {queues = {q = args},
-- names = {n = args}}.
local function ix_add(t, id, queue, name, created)
  local q, n = t.queues[queue], t.names[name]
  if not q then q = {}; t.queues[queue] = q end
  if not n then n = {}; t.names[name] = n end
  q[#q + 1] = created; q[#q + 1] = id
  n[#n + 1] = created; n[#n + 1] = id
end

local function ix_write(t)
  local seen = {}
  for queue, args in pairs(t.queues) do
    redis.call('ZADD', ix_key('new', queue), unpack(args)); seen[#seen + 1] = 'q:' .. queue
  end
  for name, args in pairs(t.names) do
    redis.call('ZADD', P .. 'xn:' .. name, unpack(args)); seen[#seen + 1] = 'n:' .. name
  end
  if #seen > 0 then redis.call('SADD', P .. 'xs', unpack(seen)) end
end

local function ix_new(id, queue, name, created, status, member)
  redis.call('ZADD', ix_key(status, queue, member), created, id)
  redis.call('ZADD', P .. 'xn:' .. name, created, id)
  redis.call('SADD', P .. 'xs', 'q:' .. queue, 'n:' .. name)
end

-- Move the uuids of list `ids` (of `queue`) from status `from` to status `to`.
local function ix_move(queue, ids, from, to)
  local fk, tk = ix_key(from, queue), ix_key(to, queue)
  if #ids == 0 or fk == tk then return end
  local s = redis.call('ZMSCORE', fk, unpack(ids))
  redis.call('ZREM', fk, unpack(ids))
  local args = {}
  for j, id in ipairs(ids) do
    if s[j] then args[#args + 1] = s[j]; args[#args + 1] = id end
  end
  if #args > 0 then redis.call('ZADD', tk, unpack(args)) end
end

-- Collect moves of uuids whose score (creation time) the caller knows, to do at once:
-- one ZREM and one ZADD per pair of sets.
local function ix_defer(t, queue, id, from, to, score)
  local fk, tk = ix_key(from, queue), ix_key(to, queue)
  if fk == tk then return end
  local k = fk .. ' ' .. tk
  local l = t[k]
  if not l then l = {ids = {}, args = {}, from = fk, to = tk}; t[k] = l end
  l.ids[#l.ids + 1] = id
  l.args[#l.args + 1] = score; l.args[#l.args + 1] = id
end

local function ix_flush(t)
  for _, l in pairs(t) do
    redis.call('ZREM', l.from, unpack(l.ids))
    redis.call('ZADD', l.to, unpack(l.args))
  end
end

-- The status at the head of a stored value (nil when it has none).
local function status_of(value)
  return string.match(value, '^%["([^"]*)"')
end
