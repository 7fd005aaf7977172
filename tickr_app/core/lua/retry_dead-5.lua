-- Retry up to `limit` dead jobs at once, oldest first (Shift-R in the TUI).
-- KEYS: ready, dead, events, stats, job-key prefix
-- ARGV: limit, events_maxlen
-- Returns the number of jobs put back on the ready list
local ready, dead, events, stats, job_prefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local popped = redis.call('ZPOPMIN', dead, tonumber(ARGV[1]))
local n = 0
local now = now_ms()
local ids = {}
for i = 1, #popped, 2 do
  local id = popped[i]
  local key = job_prefix .. id
  if redis.call('HGET', key, 'status') == 'dead' then
    redis.call('HDEL', key, 'finished_at', 'lease', 'worker', 'started_at')
    redis.call('HSET', key, 'status', 'ready', 'attempts', 0, 'progress', 0, 'due_at', now)
    redis.call('LPUSH', ready, id)
    ids[#ids + 1] = id
    wf_on_retry(ready, key, id, now, ARGV[2])
    n = n + 1
  end
end
redis.call('HINCRBY', stats, 'manual_retries', n)
emit_batch(events, ARGV[2], 'ready', ids)
return n
