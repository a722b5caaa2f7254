-- A stored task's header (decoded) and the rest of its value (the newline and the body);
-- nil and what is wrong when the header cannot be read. Nothing here raises: a script
-- that failed halfway would keep its first writes (Redis does not undo them).

local function head(raw)
  local i = string.find(raw, '\n', 1, true)
  if not i then return nil, 'no header line' end
  local ok, h = pcall(cjson.decode, string.sub(raw, 1, i - 1))
  if not ok then return nil, 'header is not JSON' end
  -- Only what the scripts would fail on (each check costs ~40 ns): status, attempts
  -- (counted), member (a queue's member); the rest is compared or passed through.
  if type(h) ~= 'table' or type(h[1]) ~= 'string' or type(h[2]) ~= 'number'
    or type(h[5]) ~= 'string' then
    return nil, 'header is not a task header'
  end
  return h, string.sub(raw, i)
end

-- The header written back, or nil when it cannot be (it held an infinite number, say:
-- cjson reads those but does not write them). For the scripts that have taken the task.
local function encode(h)
  local ok, v = pcall(cjson.encode, h)
  if ok then return v end
end

-- Still the delivery of lease `token`: leased (its lease may have expired), or requeued
-- when it expired and not fetched again since (the requeue keeps the token).
local function ours(h, token)
  return h[6] == token and (h[1] == 'process' or h[1] == 'new')
end
