-- Cancel a job: a waiting or ready job is cancelled at once; an active one is asked to stop
-- (its worker hears it on its control channel, and on its next heartbeat if that was missed).
-- KEYS: ready, waiting, active, cancelled, events, stats, job hash
-- ARGV: id, retention_ms, events_maxlen, control_channel_prefix
-- Returns 'cancelled', 'requested', 'missing', or the status that cannot be cancelled
local ready, waiting, active, cancelled, events, stats, key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local id = ARGV[1]
local status = redis.call('HGET', key, 'status')
if not status then return 'missing' end
if status == 'active' then
  redis.call('HSET', key, 'cancel_requested', 1)
  redis.call('HDEL', key, 'wf_stop')  -- asked of this job, not of its workflow (_workflow.lua)
  local worker = redis.call('HGET', key, 'worker')
  if worker then
    redis.call('PUBLISH', ARGV[4] .. worker, 'cancel ' .. id)
  end
  emit(events, ARGV[3], 'cancel_requested', id)
  return 'requested'
end
if status ~= 'waiting' and status ~= 'ready' then return status end
if status == 'waiting' then
  redis.call('ZREM', waiting, id)
else
  remove_ready(ready, id, redis.call('HGET', key, 'type'))
end
local now = now_ms()
redis.call('HSET', key, 'status', 'cancelled', 'finished_at', now)
redis.call('PEXPIRE', key, tonumber(ARGV[2]))
redis.call('ZADD', cancelled, now, id)
redis.call('HINCRBY', stats, 'cancelled', 1)
emit(events, ARGV[3], 'cancelled', id)
wf_on_end(active, key, id, 'cancelled', now, ARGV[3])
return 'cancelled'
