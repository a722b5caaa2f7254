-- Listing indexes (see inspect.py): ZSET x:{status}:{queue} and xn:{name} hold the uuids
-- of the tasks of that status and queue, and of that task name, scored by creation time;
-- SETs xq and xn name the queues and task names seen. A status change moves a uuid
-- between the first kind, keeping its score; a record that expires leaves members that
-- the upkeep (`maintain`) and the listing drop.

local function ix_new(id, queue, name, created, status)
  redis.call('ZADD', P .. 'x:' .. status .. ':' .. queue, created, id)
  redis.call('ZADD', P .. 'xn:' .. name, created, id)
  redis.call('SADD', P .. 'xq', queue)
  redis.call('SADD', P .. 'xn', name)
end

-- Move the uuids of list `ids` (of `queue`) from status `from` to status `to`.
local function ix_move(queue, ids, from, to)
  if #ids == 0 or from == to then return end
  local fk = P .. 'x:' .. from .. ':' .. queue
  local s = redis.call('ZMSCORE', fk, unpack(ids))
  redis.call('ZREM', fk, unpack(ids))
  local args = {}
  for j, id in ipairs(ids) do
    if s[j] then args[#args + 1] = s[j]; args[#args + 1] = id end
  end
  if #args > 0 then redis.call('ZADD', P .. 'x:' .. to .. ':' .. queue, unpack(args)) end
end

-- Collect moves to do at once: t[from .. ' ' .. to .. ' ' .. queue] = {uuid, ...}.
local function ix_defer(t, queue, id, from, to)
  if from == to then return end
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
