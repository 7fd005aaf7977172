-- Put a dead or cancelled job back on the ready list with a fresh set of attempts; it is due
-- now (due_at says so, even for a job cancelled while it waited for a later time).
-- KEYS: ready, dead, cancelled, events, stats, job hash
-- ARGV: id, events_maxlen
-- Returns 'ready', 'missing', or the status that cannot be retried
local ready, dead, cancelled, events, stats, key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id = ARGV[1]
local status = redis.call('HGET', key, 'status')
if not status then return 'missing' end
if status ~= 'dead' and status ~= 'cancelled' then return status end
redis.call('ZREM', dead, id)
redis.call('ZREM', cancelled, id)
redis.call('PERSIST', key)
redis.call('HDEL', key, 'cancel_requested', 'finished_at', 'lease', 'worker', 'started_at')
redis.call('HSET', key, 'status', 'ready', 'attempts', 0, 'progress', 0, 'due_at', now_ms())
redis.call('LPUSH', ready, id)
redis.call('HINCRBY', stats, 'manual_retries', 1)
emit(events, ARGV[2], 'ready', id)
wf_on_retry(ready, key, id, now_ms(), ARGV[2])
return 'ready'
