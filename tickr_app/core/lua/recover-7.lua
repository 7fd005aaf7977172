-- Take back jobs whose lease expired (their worker died or hung): the lost attempt counts and
-- the job backs off like any failure, or goes dead after its last attempt. Clearing the lease
-- token fences the old worker: its late ack or fail is rejected.
-- A job whose cancel was requested while it ran is cancelled, not run again: its worker is gone,
-- and a workflow that stopped must not see the node come back.
-- KEYS: active, waiting, dead, events, stats, job-key prefix, cancelled
-- ARGV: batch, random in [0,1), dead_cap, events_maxlen, wake_channel, retention_ms
-- Returns the number of jobs recovered
local active, waiting, dead, events, stats, job_prefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local batch, rnd, dead_cap, maxlen, wake = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, batch)
for i, id in ipairs(ids) do
  redis.call('ZREM', active, id)
  local key = job_prefix .. id
  local f = redis.call('HMGET', key, 'status', 'attempts', 'max_attempts', 'backoff_base_ms',
    'backoff_cap_ms', 'worker', 'type', 'cancel_requested')
  if f[1] == 'active' then
    limits_release(active, {id}, {f[7]})
    local attempts, max_attempts = tonumber(f[2]), tonumber(f[3])
    local err = 'lease expired: worker ' .. tostring(f[6]) .. ' stopped heartbeating'
    redis.call('HDEL', key, 'lease')
    redis.call('HSET', key, 'error', err, 'traceback', '', 'failed_at', now)
    redis.call('HINCRBY', stats, 'failed', 1)
    redis.call('HINCRBY', stats, 'processed', 1)
    redis.call('HINCRBY', stats, 'recovered', 1)
    redis.call('HINCRBY', stats, 'failed|' .. f[7], 1)
    if f[8] == '1' then
      redis.call('HSET', key, 'status', 'cancelled', 'finished_at', now)
      redis.call('PEXPIRE', key, tonumber(ARGV[6]))
      redis.call('ZADD', KEYS[7], now, id)
      redis.call('HINCRBY', stats, 'cancelled', 1)
      emit(events, maxlen, 'cancelled', id)
      wf_on_end(active, key, id, 'cancelled', now, maxlen)
    elseif attempts >= max_attempts then
      redis.call('HSET', key, 'status', 'dead', 'finished_at', now)
      redis.call('ZADD', dead, now, id)
      redis.call('HINCRBY', stats, 'dead', 1)
      redis.call('HINCRBY', stats, 'dead|' .. f[7], 1)
      emit(events, maxlen, 'dead', id)
      wf_on_end(active, key, id, 'dead', now, maxlen)
    else
      local r = (rnd + i * 0.6180339887) % 1
      local due = now + backoff_ms(tonumber(f[4]), tonumber(f[5]), attempts, r)
      redis.call('HSET', key, 'status', 'waiting', 'due_at', due)
      schedule(waiting, wake, id, due)
      redis.call('HINCRBY', stats, 'retried', 1)
      redis.call('HINCRBY', stats, 'retried|' .. f[7], 1)
      emit(events, maxlen, 'recovered', id)
    end
  end
end
trim_dead(dead, job_prefix, dead_cap)
return #ids
