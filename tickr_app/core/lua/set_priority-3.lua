-- Change the priority of a job that has not started: a waiting job keeps it for when it comes
-- due; a ready job moves, atomically, to the end of its new priority's line (push_ready); a
-- job held back by a limit moves likewise within its type's held jobs.
-- KEYS: ready, events, job hash
-- ARGV: id, priority, events_maxlen
-- Returns the job's status ('waiting' or 'ready': changed), 'missing', or the status that
-- cannot be changed
local ready, events, key = KEYS[1], KEYS[2], KEYS[3]
local id, priority = ARGV[1], tonumber(ARGV[2])
local f = redis.call('HMGET', key, 'status', 'priority')
if not f[1] then return 'missing' end
if f[1] ~= 'waiting' and f[1] ~= 'ready' then return f[1] end
if priority == 0 then
  redis.call('HDEL', key, 'priority')
else
  redis.call('HSET', key, 'priority', priority)
end
-- A job held back by its type's limit (not on the ready list or set) moves within its type's
-- held set instead: pushing it would put it in two places at once.
if f[1] == 'ready' and (tonumber(f[2]) or 0) ~= priority then
  if remove_ready(ready, id) then
    push_ready(ready, {id}, {priority}, false)
  else
    local base = string.sub(ready, 1, -6)
    local held = base .. 'held:' .. redis.call('HGET', key, 'type')
    redis.call('ZADD', held, 'XX', held_score(base, priority, false), id)
  end
end
emit(events, ARGV[3], 'priority', id, tostring(priority))
return f[1]
