-- Pause (the schedule leaves the due set; its next slot is kept) or resume it (back in the due
-- set; a next slot that passed meanwhile is then a misfire, handled by the schedule's policy).
-- KEYS: the schedule's hash, schedule_due
-- ARGV: id, '1' pause | '0' resume, wake channel
-- Returns 'ok' or 'missing'
local key, due = KEYS[1], KEYS[2]
local id, paused, wake = ARGV[1], ARGV[2], ARGV[3]
local nxt = redis.call('HGET', key, 'next')
if not nxt then return 'missing' end
redis.call('HSET', key, 'paused', paused)
nxt = tonumber(nxt)
if paused == '1' or nxt < 0 then
  redis.call('ZREM', due, id)
else
  redis.call('ZADD', due, nxt, id)
  local head = redis.call('ZRANGE', due, 0, 0)
  if head[1] == id then redis.call('PUBLISH', wake, nxt) end
end
return 'ok'
