-- ARGV: uuid. Read the task and, unless it is final, mark it as waited for (header slot
-- 8) in the same step: its completion then pushes the final value to done:{uuid}. So a
-- completion either came before (the value read is final) or will push. The caller
-- blocks on done:{uuid} right after (same write), so when nothing will push there (the
-- task is final already, or unknown: "") this pushes now; the first waiter of a task
-- clears such an "unknown" left from a wait that came before the task existed.

local k, d = P .. 't:' .. ARGV[1], P .. 'done:' .. ARGV[1]
local raw = redis.call('GET', k)
if not raw then
  if redis.call('EXISTS', d) == 0 then
    redis.call('RPUSH', d, ''); redis.call('PEXPIRE', d, 1000)
  end
  return false
end
local h, rest = head(raw)
if h and (h[1] == 'new' or h[1] == 'process') then
  if not h[8] then
    h[8] = 1
    redis.call('SET', k, cjson.encode(h) .. rest, 'KEEPTTL')
    redis.call('DEL', d)
  end
elseif redis.call('EXISTS', d) == 0 then
  done(ARGV[1], raw)
end
return raw
