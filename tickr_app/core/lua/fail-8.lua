-- A leased attempt failed: back to waiting with a backoff, or to the dead letter queue after
-- the last attempt (or at once when the error is not retryable). A job whose cancel was
-- requested while it ran is cancelled instead of retried.
-- KEYS: active, waiting, dead, events, stats, job hash, job-key prefix (to trim the dead queue),
--       cancelled
-- ARGV: id, token, error, traceback, retry_delay_ms, dead_cap, events_maxlen, wake_channel,
--       force_dead ('1' or '0'), retention_ms
-- Returns 'retry', 'dead', 'cancelled' or 'rejected' (lease lost)
local active, waiting, dead, events, stats, key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, token = ARGV[1], ARGV[2]
if redis.call('HGET', key, 'lease') ~= token then
  return 'rejected'
end
local now = now_ms()
local attempts = tonumber(redis.call('HGET', key, 'attempts'))
local max_attempts = tonumber(redis.call('HGET', key, 'max_attempts'))
local jtype = redis.call('HGET', key, 'type')
redis.call('ZREM', active, id)
limits_release(active, {id}, {jtype})
redis.call('HDEL', key, 'lease')
redis.call('HSET', key, 'error', ARGV[3], 'traceback', ARGV[4], 'failed_at', now)
redis.call('HINCRBY', stats, 'failed', 1)
redis.call('HINCRBY', stats, 'processed', 1)
redis.call('HINCRBY', stats, 'failed|' .. jtype, 1)
if redis.call('HGET', key, 'cancel_requested') == '1' then
  redis.call('HSET', key, 'status', 'cancelled', 'finished_at', now)
  redis.call('PEXPIRE', key, tonumber(ARGV[10]))
  redis.call('ZADD', KEYS[8], now, id)
  redis.call('HINCRBY', stats, 'cancelled', 1)
  emit(events, ARGV[7], 'cancelled', id)
  wf_on_end(active, key, id, 'cancelled', now, ARGV[7])
  return 'cancelled'
end
if attempts >= max_attempts or ARGV[9] == '1' then
  redis.call('HSET', key, 'status', 'dead', 'finished_at', now)
  redis.call('ZADD', dead, now, id)
  redis.call('HINCRBY', stats, 'dead', 1)
  redis.call('HINCRBY', stats, 'dead|' .. jtype, 1)
  emit(events, ARGV[7], 'dead', id)
  -- The hook first: trimming may drop this very record (a small cap, or ties in the same ms),
  -- and the hook reads its workflow from it.
  wf_on_end(active, key, id, 'dead', now, ARGV[7])
  trim_dead(dead, KEYS[7], tonumber(ARGV[6]))
  return 'dead'
end
local due = now + tonumber(ARGV[5])
redis.call('HSET', key, 'status', 'waiting', 'due_at', due)
schedule(waiting, ARGV[8], id, due)
redis.call('HINCRBY', stats, 'retried', 1)
redis.call('HINCRBY', stats, 'retried|' .. jtype, 1)
emit(events, ARGV[7], 'retry', id)
return 'retry'
