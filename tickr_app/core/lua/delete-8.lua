-- Delete a job that is not running, from whichever queue holds it.
-- KEYS: ready, waiting, active, dead, succeeded, cancelled, events, job hash
-- ARGV: id, events_maxlen
-- Returns 'deleted', 'missing' or 'active'
local id = ARGV[1]
local key = KEYS[8]
local status = redis.call('HGET', key, 'status')
if not status then return 'missing' end
if status == 'active' then return 'active' end
if status == 'ready' or status == 'waiting' then
  wf_on_end(KEYS[3], key, id, 'cancelled', now_ms(), ARGV[2])
end
remove_ready(KEYS[1], id, redis.call('HGET', key, 'type'))
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[4], id)
redis.call('ZREM', KEYS[5], id)
redis.call('ZREM', KEYS[6], id)
redis.call('DEL', key)
emit(KEYS[7], ARGV[2], 'deleted', id)
return 'deleted'
