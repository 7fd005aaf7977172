-- Change the priority of a job that has not started: a waiting job keeps it for when it comes
-- due; a ready job moves, atomically, to the end of its new priority's line (push_ready); a
-- job held back by a limit keeps its place in its type's held line (FIFO per type).
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
-- A job held back by its type's limit (not on the ready list or set) keeps its place in the
-- held line: pushing it would put it in two places at once.
if f[1] == 'ready' and (tonumber(f[2]) or 0) ~= priority and remove_ready(ready, id) then
  push_ready(ready, {id}, {priority}, false)
end
emit(events, ARGV[3], 'priority', id, tostring(priority))
return f[1]
