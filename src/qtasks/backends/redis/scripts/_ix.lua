-- Listing indexes (see inspect.py): ZSET x:pending:{queue} holds the uuids of the tasks
-- of `queue` not settled yet (new or running: the running ones are also in l:{queue}),
-- x:{status}:{queue} those of each settled status, xn:{name} those of each task name,
-- all scored by creation time; SETs xq and xn name the queues and task names seen.
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
  local qs, ns = {}, {}
  for queue, args in pairs(t.queues) do
    redis.call('ZADD', ix_key('new', queue), unpack(args)); qs[#qs + 1] = queue
  end
  for name, args in pairs(t.names) do
    redis.call('ZADD', P .. 'xn:' .. name, unpack(args)); ns[#ns + 1] = name
  end
  if #qs > 0 then redis.call('SADD', P .. 'xq', unpack(qs)) end
  if #ns > 0 then redis.call('SADD', P .. 'xn', unpack(ns)) end
end

local function ix_new(id, queue, name, created, status, member)
  redis.call('ZADD', ix_key(status, queue, member), created, id)
  redis.call('ZADD', P .. 'xn:' .. name, created, id)
  redis.call('SADD', P .. 'xq', queue)
  redis.call('SADD', P .. 'xn', name)
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

-- Collect moves to do at once: t[from .. ' ' .. to .. ' ' .. queue] = {uuid, ...}.
local function ix_defer(t, queue, id, from, to)
  if ix_key(from, queue) == ix_key(to, queue) then return end
  local k = from .. ' ' .. to .. ' ' .. queue
  local l = t[k]
  if not l then l = {}; t[k] = l end
  l[#l + 1] = id
end

local function ix_flush(t)
  for k, ids in pairs(t) do
    local from, to, queue = string.match(k, '^(%S+) (%S+) (.*)$')
    ix_move(queue, ids, from, to)
  end
end

-- The status at the head of a stored value (nil when it has none).
local function status_of(value)
  return string.match(value, '^%["([^"]*)"')
end
