-- ARGV: limit, status ("": any), queue ("": any), index keys (without the prefix)...
-- Delete up to `limit` tasks listed in these indexes (see _ix) whose record has that
-- status and queue: the record, its queue entry or lease, its index entries. Members
-- whose record is gone or no longer matches leave the index. Returns {deleted, left}:
-- `left` > 0 while the indexes hold more members.

local limit, want_s, want_q = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local deleted, left = 0, 0
for i = 4, #ARGV do
  local ik = P .. ARGV[i]
  local ids = {}
  if limit > 0 then ids = redis.call('ZRANGE', ik, 0, limit - 1) end
  for _, id in ipairs(ids) do
    local k = P .. 't:' .. id
    local raw = redis.call('GET', k)
    local h = raw and head(raw)
    redis.call('ZREM', ik, id)
    if h and (want_s == '' or h[1] == want_s) and (want_q == '' or h[4] == want_q) then
      redis.call('DEL', k)
      if h[5] ~= '' then
        redis.call('ZREM', P .. 'q:' .. h[4], h[5])
        redis.call('ZREM', P .. 'z:' .. h[4], h[5])
      end
      redis.call('ZREM', P .. 'l:' .. h[4], id)
      redis.call('ZREM', P .. 'x:' .. h[1] .. ':' .. h[4], id)
      deleted = deleted + 1
    end
  end
  limit = limit - #ids
  left = left + redis.call('ZCARD', ik)
end
return {deleted, left}
