-- Returns {ids, infos} of the workers whose registration has not expired, or {}.

local ids = redis.call('ZRANGEBYSCORE', P .. 'workers', '(' .. now_s(), '+inf')
if #ids == 0 then return {} end
return {ids, redis.call('HMGET', P .. 'winfo', unpack(ids))}
