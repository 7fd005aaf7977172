-- Move every due waiting job (up to a batch) to the ready list, in due order.
-- KEYS: waiting, ready, events, job-key prefix
-- ARGV: batch, events_maxlen
-- Returns {promoted, next_due_ms or -1, redis_now_ms}
local waiting, ready, events, job_prefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local batch, maxlen = tonumber(ARGV[1]), ARGV[2]
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', waiting, '-inf', now, 'LIMIT', 0, batch)
local promoted = {}
if #ids > 0 then
  redis.call('ZREM', waiting, unpack(ids))
  for _, id in ipairs(ids) do
    local key = job_prefix .. id
    if redis.call('HGET', key, 'status') == 'waiting' then
      redis.call('HSET', key, 'status', 'ready')
      promoted[#promoted + 1] = id
    end
  end
  if #promoted > 0 then
    redis.call('LPUSH', ready, unpack(promoted))
  end
  emit_batch(events, maxlen, 'ready', promoted)
end
local head = redis.call('ZRANGE', waiting, 0, 0, 'WITHSCORES')
local next_due = -1
if head[2] then next_due = tonumber(head[2]) end
return {#ids, next_due, now}
