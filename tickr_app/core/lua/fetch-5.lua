-- Lease up to n ready jobs to one worker: pop, mark active, put on the lease set.
-- KEYS: ready, active, events, paused flag, job-key prefix
-- ARGV: n, worker_id, lease_ms, events_maxlen
-- Returns {'paused'} when the queue is paused, else a flat list of 11 fields per job (after
-- 'limited', throttled 0|1, wait ms or -1 when the queue has limits: see lease_limited).
local ready, active, events, paused, job_prefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('EXISTS', paused) == 1 then
  return {'paused'}
end
return limits_reply(lease_ready(ready, active, events, job_prefix, tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]))
