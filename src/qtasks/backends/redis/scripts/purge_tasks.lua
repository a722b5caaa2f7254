-- ARGV: index key (without the prefix), offset, limit, status ("": any), queue ("": any).
-- Delete the tasks among `limit` members of the index (see _ix) from `offset` on whose
-- record has that status and queue: the record, its queue entry or lease, its index
-- entry. Members whose record is gone leave the index; the others stay. Returns
-- {deleted, kept, read}: the next call starts at offset + kept, until read < limit.

local ik, want_s, want_q = P .. ARGV[1], ARGV[4], ARGV[5]
local ids = redis.call('ZRANGE', ik, tonumber(ARGV[2]), tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1)
local deleted, kept = 0, 0
for _, id in ipairs(ids) do
  local k = P .. 't:' .. id
  local raw = redis.call('GET', k)
  local h = raw and head(raw)
  if not h then
    if not raw then redis.call('ZREM', ik, id) else kept = kept + 1 end
  elseif (want_s == '' or h[1] == want_s) and (want_q == '' or h[4] == want_q) then
    redis.call('DEL', k)
    if h[5] ~= '' then
      redis.call('ZREM', P .. 'q:' .. h[4], h[5])
      redis.call('ZREM', P .. 'z:' .. h[4], h[5])
    end
    redis.call('ZREM', P .. 'l:' .. h[4], id)
    redis.call('ZREM', ik, id)
    deleted = deleted + 1
  else
    kept = kept + 1
  end
end
return {deleted, kept, #ids}
