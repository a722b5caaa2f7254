-- ARGV: uuid[, "p"]. Read the task and, unless it is final, mark it as waited for (header
-- slot 8) in the same step: its completion then pushes the final value to done:{uuid}. So a
-- completion either came before (the value read is final) or will push. The caller
-- blocks on done:{uuid} right after (same write), so when nothing will push there (the
-- task is final already, or unknown: "") this pushes now; the first waiter of a task
-- clears such an "unknown" left from a wait that came before the task existed.
-- With "p" (a waiter for progress) the mark is 2: every write of the running task then
-- also adds an entry to the stream ev:{uuid}, and so does its completion. The reply is
-- {value or "", id of the stream's last entry ("" when final or unknown)}, read in the
-- same step, so the caller's XREAD from that id misses no write made after its read.

local k, d = P .. 't:' .. ARGV[1], P .. 'done:' .. ARGV[1]
local progress = ARGV[2] == 'p'
local raw = redis.call('GET', k)
if not raw then
  if progress then return {'', ''} end
  if redis.call('EXISTS', d) == 0 then
    redis.call('RPUSH', d, ''); redis.call('PEXPIRE', d, 1000)
  end
  return false
end
local h, rest = head(raw)
if h and (h[1] == 'new' or h[1] == 'process') then
  if not h[8] or (progress and h[8] ~= 2) then
    if not h[8] then redis.call('DEL', d) end
    h[8] = progress and 2 or 1
    redis.call('SET', k, cjson.encode(h) .. rest, 'KEEPTTL')
  end
  if progress then
    local ev = P .. 'ev:' .. ARGV[1]
    local last = redis.call('XREVRANGE', ev, '+', '-', 'COUNT', 1)[1]
    if last then redis.call('PEXPIRE', ev, 60000) end
    return {raw, last and last[1] or progressed(ARGV[1], 60000)}
  end
elseif progress then
  return {raw, ''}
elseif redis.call('EXISTS', d) == 0 then
  done(ARGV[1], raw)
end
return raw
