-- Dead letters: ZSET dl indexes uuids by when they were dead-lettered (server clock);
-- STRING dl:{uuid} each = JSON [queue, reason, dead_at], then, for a stored task that
-- could not be decoded, a newline and its raw text. An entry expires with the task's
-- record (`ttl` ms, the result ttl); the index drops members older than that here.

local function bury(id, queue, reason, now, ttl, raw)
  local v = '[' .. cjson.encode(queue) .. ',' .. cjson.encode(reason) .. ','
    .. string.format('%.6f', now) .. ']'
  if raw then v = v .. '\n' .. raw end
  redis.call('SET', P .. 'dl:' .. id, v, 'PX', ttl)
  redis.call('ZADD', P .. 'dl', now, id)
  redis.call('ZREMRANGEBYSCORE', P .. 'dl', '-inf', '(' .. string.format('%.6f', now - ttl / 1000))
end

-- A stored task that cannot be decoded: its record becomes `error` naming the fault and
-- it is dead-lettered with its raw text. Its name and priority are kept when its body
-- can be read. `updated` is text (see codec.py). Nothing here raises.
local function whole(x)  -- an integer cjson can write (not NaN, not infinite)
  return type(x) == 'number' and x == math.floor(x) and math.abs(x) < 2^53
end
local function spoil(id, queue, raw, reason, now, ttl, updated)
  local name, priority, attempts = '', 0, 0
  local i = string.find(raw, '\n', 1, true)
  if i then
    local ok, h = pcall(cjson.decode, string.sub(raw, 1, i - 1))
    if ok and type(h) == 'table' and whole(h[2]) then attempts = h[2] end
    local okb, b = pcall(cjson.decode, string.sub(raw, i + 1))
    if okb and type(b) == 'table' then
      if type(b[1]) == 'string' then name = b[1] end
      if whole(b[2]) then priority = b[2] end
    end
  end
  reason = 'stored task cannot be decoded: ' .. reason
  local tb = reason .. ' (its raw text is kept in the dead letters)'
  local at = string.format('%.6f', now)
  local v = cjson.encode({'error', attempts, updated, queue, '', '', cjson.null}) .. '\n['
    .. cjson.encode(name) .. ',' .. string.format('%d', priority) .. ',[],{},' .. at
    .. ',null,' .. cjson.encode(tb) .. ',{"dead_letter":' .. cjson.encode(reason) .. '},null]'
  redis.call('SET', P .. 't:' .. id, v, 'PX', ttl)
  ix_move(queue, {id}, 'new', 'error')
  bury(id, queue, reason, now, ttl, raw)
end
