-- Shared helpers, prepended to every script by scripts.py (Lua has no import in Redis).
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- One event per batch: `id` holds the batch's job ids joined by commas and `n` their count.
local function emit_batch(stream, maxlen, event, ids)
  if #ids > 0 then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'e', event, 'id', table.concat(ids, ','), 'n', #ids)
  end
end

local function emit(stream, maxlen, event, id, extra)
  if extra then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'e', event, 'id', id, 'x', extra)
  else
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'e', event, 'id', id)
  end
end

-- Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^(attempt-1))].
local function backoff_ms(base, cap, attempt, rnd)
  local ceiling = base * (2 ^ (attempt - 1))
  if ceiling > cap then ceiling = cap end
  return math.floor(ceiling * rnd)
end

-- Put a job on the waiting set; tell schedulers in every process when it became the earliest.
-- Add per-type counters collected over a batch: counts[type] = n.
local function count_by_type(stats, what, counts)
  for jtype, n in pairs(counts) do
    redis.call('HINCRBY', stats, what .. '|' .. jtype, n)
  end
end

local function schedule(waiting, wake_channel, id, due)
  redis.call('ZADD', waiting, due, id)
  local head = redis.call('ZRANGE', waiting, 0, 0)
  if head[1] == id then
    redis.call('PUBLISH', wake_channel, due)
  end
end

-- Keep at most `cap` dead jobs: drop the oldest with their hashes.
local function trim_dead(dead, job_prefix, cap)
  local excess = redis.call('ZCARD', dead) - cap
  if excess > 0 then
    local old = redis.call('ZPOPMIN', dead, excess)
    for i = 1, #old, 2 do
      redis.call('DEL', job_prefix .. old[i])
    end
  end
end

-- Priorities. A job of priority 0 (the default) waits on the ready list: today's fast path.
-- Any other priority waits on the queue's priority set, a zset named after the list
-- (ready .. ':prio', same hash tag), scored so the lowest score is the highest priority and,
-- within one priority, the earliest push: score = -priority * 2^44 + 2^43 + seq, where seq
-- counts pushes (ready .. ':seq'); a push to the head of its priority (a released job) uses
-- -seq. Positive priorities thus score below 0 and negative ones above: fetch takes positive
-- priorities, then the list, then negative ones. Scores stay below 2^53 (exact doubles) for
-- priorities -100..100 (core/priority.py). A push to the set wakes idle fetchers on the
-- queue's wake channel (message 'ready'): they block on the list only.
local PRIO_STEP = 17592186044416 -- 2^44
local PRIO_MID = 8796093022208 -- 2^43

local function prio_key(ready)
  return ready .. ':prio'
end

-- Put jobs on the ready structures by priority: ids[i] has priority prios[i] (nil, '' or 0:
-- the list). at_head: first in line within its priority (a released job), else last (FIFO).
local function push_ready(ready, ids, prios, at_head)
  local plain, zargs = {}, {}
  for i, id in ipairs(ids) do
    local p = tonumber(prios[i]) or 0
    if p == 0 then
      plain[#plain + 1] = id
    else
      zargs[#zargs + 1] = p
      zargs[#zargs + 1] = id
    end
  end
  if #zargs > 0 then
    -- One counter step per call: the batch's jobs take consecutive numbers, in order.
    local last = redis.call('INCRBY', ready .. ':seq', #zargs / 2)
    local seq = last - #zargs / 2
    for i = 1, #zargs, 2 do
      seq = seq + 1
      local s = seq
      if at_head then s = -seq end
      zargs[i] = string.format('%.0f', -zargs[i] * PRIO_STEP + PRIO_MID + s)
    end
  end
  if #plain > 0 then
    if at_head then
      redis.call('RPUSH', ready, unpack(plain))
    else
      redis.call('LPUSH', ready, unpack(plain))
    end
  end
  if #zargs > 0 then
    redis.call('ZADD', prio_key(ready), unpack(zargs))
    redis.call('PUBLISH', string.sub(ready, 1, -6) .. 'wake', 'ready')
  end
end

-- Take up to n ready job ids in fetch order; with no prioritised job waiting, one empty ZRANGE
-- and one RPOP. Otherwise one ZRANGE reads the n best of the set: those with a positive
-- priority (score < 0) go first, then the list, then the rest of those n (negative
-- priorities); what was taken from the set is a prefix by rank, removed in one call.
local function pop_ready(ready, n)
  local prio = prio_key(ready)
  local head = redis.call('ZRANGE', prio, 0, n - 1, 'WITHSCORES')
  if #head == 0 then
    return redis.call('RPOP', ready, n) or {}
  end
  local ids = {}
  local i = 1
  while i < #head and tonumber(head[i + 1]) < 0 do
    ids[#ids + 1] = head[i]
    i = i + 2
  end
  if #ids < n then
    local plain = redis.call('RPOP', ready, n - #ids)
    if plain then
      for _, id in ipairs(plain) do ids[#ids + 1] = id end
    end
  end
  local taken = (i - 1) / 2
  while #ids < n and i < #head do
    ids[#ids + 1] = head[i]
    taken = taken + 1
    i = i + 2
  end
  if taken > 0 then
    redis.call('ZREMRANGEBYRANK', prio, 0, taken - 1)
  end
  return ids
end

-- Take one job off the ready structures (cancel, delete, a priority change).
local function remove_ready(ready, id)
  if redis.call('ZREM', prio_key(ready), id) == 0 then
    redis.call('LREM', ready, 0, id)
  end
end

-- Lease up to n jobs from the ready list to one worker (fetch, and promote when the promoting
-- process has idle slots). Returns a flat list of 11 fields per job.
local function lease_ready(ready, active, events, job_prefix, n, worker, lease_ms, maxlen)
  local ids = pop_ready(ready, n)
  if #ids == 0 then
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
end

-- Write a new job record (enqueue, and schedules firing a slot): one field list for both.
local function put_job(key, id, jtype, queue, payload, status, max_attempts, timeout_ms, base_ms, cap_ms, now, due)
  redis.call('HSET', key, 'id', id, 'type', jtype, 'queue', queue, 'payload', payload,
    'status', status, 'attempts', 0, 'max_attempts', max_attempts, 'timeout_ms', timeout_ms,
    'backoff_base_ms', base_ms, 'backoff_cap_ms', cap_ms, 'created_at', now, 'due_at', due,
    'progress', 0)
end
