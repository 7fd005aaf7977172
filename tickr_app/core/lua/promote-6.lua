-- Move every due waiting job (up to a batch) to ready (by priority: push_ready), in due order; then, when the
-- promoting process has idle slots (lease_n > 0) and the queue is not paused, lease up to that
-- many ready jobs to it at once, saving the round trip of a separate fetch.
-- KEYS: waiting, ready, events, job-key prefix, active, paused flag
-- ARGV: batch, events_maxlen, lease_n, worker_id, lease_ms
-- Returns {promoted, next_due_ms or -1, redis_now_us, leased jobs (11 fields each)...}
-- (now in microseconds: the caller times its sleep to the next due time from it)
local waiting, ready, events, job_prefix, active, paused = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local batch, maxlen, lease_n = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ids = redis.call('ZRANGEBYSCORE', waiting, '-inf', now, 'LIMIT', 0, batch)
local promoted = {}
local prios = {}
if #ids > 0 then
  redis.call('ZREM', waiting, unpack(ids))
  for _, id in ipairs(ids) do
    local key = job_prefix .. id
    local f = redis.call('HMGET', key, 'status', 'priority')
    if f[1] == 'waiting' then
      redis.call('HSET', key, 'status', 'ready')
      promoted[#promoted + 1] = id
      prios[#promoted] = f[2]
    end
  end
  if #promoted > 0 then
    push_ready(ready, promoted, prios, false)
  end
  emit_batch(events, maxlen, 'ready', promoted)
end
local head = redis.call('ZRANGE', waiting, 0, 0, 'WITHSCORES')
local next_due = -1
if head[2] then next_due = tonumber(head[2]) end
local out = {#ids, next_due, now_us}
if #promoted > 0 and lease_n > 0 and redis.call('EXISTS', paused) == 0 then
  local leased = lease_ready(ready, active, events, job_prefix, lease_n, ARGV[4], tonumber(ARGV[5]), maxlen)
  for _, v in ipairs(leased) do out[#out + 1] = v end
end
return out
