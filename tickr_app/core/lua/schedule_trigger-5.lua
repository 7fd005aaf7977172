-- Run a schedule once now, outside its slots (a new job id; the schedule's next slot is kept).
-- KEYS: the schedule's hash, ready, events, stats, the new job's hash
-- ARGV: job id, queue, events_maxlen
-- Returns the job id, or 'missing'
local key, ready, events, stats, job_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local job_id, queue, maxlen = ARGV[1], ARGV[2], ARGV[3]
local f = redis.call('HMGET', key, 'type', 'payload', 'max_attempts', 'timeout_ms', 'backoff_base_ms', 'backoff_cap_ms', 'id', 'priority')
if not f[1] then return 'missing' end
local now = now_ms()
put_job(job_key, job_id, f[1], queue, f[2], 'ready', f[3], f[4], f[5], f[6], now, now)
redis.call('HSET', job_key, 'schedule', f[7])
if f[8] and f[8] ~= '0' then redis.call('HSET', job_key, 'priority', f[8]) end
redis.call('HSET', key, 'last_job', job_id, 'last_fired_at', now)
redis.call('HINCRBY', key, 'triggered', 1)
push_ready(ready, {job_id}, {f[8]}, false)
redis.call('HINCRBY', stats, 'enqueued', 1)
redis.call('HINCRBY', stats, 'enqueued|' .. f[1], 1)
emit(events, maxlen, 'ready', job_id)
return job_id
