-- The worker stopped an active job whose cancel was requested: record it as cancelled.
-- KEYS: active, cancelled, events, stats, job hash
-- ARGV: id, token, retention_ms, events_maxlen
-- Returns 'cancelled' or 'rejected' (lease lost)
local active, cancelled, events, stats, key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, token = ARGV[1], ARGV[2]
if redis.call('HGET', key, 'lease') ~= token then return 'rejected' end
local now = now_ms()
redis.call('ZREM', active, id)
limits_release(active, {id}, {redis.call('HGET', key, 'type')})
redis.call('HDEL', key, 'lease')
redis.call('HSET', key, 'status', 'cancelled', 'finished_at', now)
redis.call('PEXPIRE', key, tonumber(ARGV[3]))
redis.call('ZADD', cancelled, now, id)
redis.call('HINCRBY', stats, 'cancelled', 1)
emit(events, ARGV[4], 'cancelled', id)
wf_on_end(active, key, id, 'cancelled', now, ARGV[4])
return 'cancelled'
