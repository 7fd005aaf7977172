-- Lease up to n ready jobs to one worker: pop, mark active, put on the lease set.
-- KEYS: ready, active, events, paused flag, job-key prefix
-- ARGV: n, worker_id, lease_ms, events_maxlen
-- Returns {'paused'} when the queue is paused, else a flat list of 11 fields per job.
local ready, active, events, paused, job_prefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local n, worker, lease_ms, maxlen = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
if redis.call('EXISTS', paused) == 1 then
  return {'paused'}
end
local ids = redis.call('RPOP', ready, n)
if not ids then
  return {}
end
local now = now_ms()
local deadline = now + lease_ms
local out = {}
local leased = {}
local zargs = {}
for _, id in ipairs(ids) do
  local key = job_prefix .. id
  local f = redis.call('HMGET', key, 'status', 'attempts', 'fetches', 'type', 'payload', 'max_attempts',
    'timeout_ms', 'backoff_base_ms', 'backoff_cap_ms', 'created_at', 'due_at')
  if f[1] == 'ready' then
    local attempts = tonumber(f[2]) + 1
    local fetches = (tonumber(f[3]) or 0) + 1
    local token = worker .. '/' .. fetches
    redis.call('HSET', key, 'status', 'active', 'attempts', attempts, 'fetches', fetches,
      'started_at', now, 'worker', worker, 'lease', token)
    zargs[#zargs + 1] = deadline
    zargs[#zargs + 1] = id
    leased[#leased + 1] = id
    out[#out + 1] = id
    out[#out + 1] = token
    out[#out + 1] = attempts
    for j = 4, 11 do out[#out + 1] = f[j] end
  end
end
if #zargs > 0 then
  redis.call('ZADD', active, unpack(zargs))
end
emit_batch(events, maxlen, 'active', leased)
return out
