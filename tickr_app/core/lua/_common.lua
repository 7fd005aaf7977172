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

-- Take one job off the ready structures (cancel, delete, a workflow stopping). A job of type
-- `jtype` held back by a limit (lease_limited) is in its type's held set instead: it leaves that
-- too, so a job retried later is never held and on the ready structures at once. The held set
-- is looked at before the list: LREM scans the list (from the head, where recent pushes are; an
-- id is on it at most once). Returns true when the job was on the ready list or set.
local function remove_ready(ready, id, jtype)
  if redis.call('ZREM', prio_key(ready), id) == 1 then return true end
  if jtype then
    local base = string.sub(ready, 1, -6)
    local held = base .. 'held:' .. jtype
    if redis.call('ZREM', held, id) == 1 then
      if redis.call('ZCARD', held) == 0 then
        redis.call('ZREM', base .. 'held', jtype)
        local since = redis.call('HGET', base .. 'limits', 'since|' .. jtype)
        if since then
          redis.call('HINCRBY', base .. 'stats', 'throttled_ms|' .. jtype, now_ms() - tonumber(since))
          redis.call('HDEL', base .. 'limits', 'since|' .. jtype)
        end
      end
      return false
    end
  end
  return redis.call('LREM', ready, 1, id) > 0
end

-- Lease the given ready jobs to one worker: mark them active and put them on the lease set.
-- `now` is optional (a rate limit passes the time it counted the starts at). Returns a flat
-- list of 11 fields per job.
local function lease_ids(ids, active, events, job_prefix, worker, lease_ms, maxlen, now)
  now = now or now_ms()
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

-- Flow control: rate limits (a sliding log of starts), global concurrency limits (leases counted
-- by deadline) and pauses a handler asked for (RateLimited), per queue and per job type. Every
-- limit key lives under the queue's hash tag and is named from its `active` key (base
-- '<prefix>:{queue}:'), so scripts that lease or end jobs reach them without more KEYS:
--   limits        hash: rate, per (ms), conc for the queue; rate|T, per|T, conc|T for job type T
--                 (set live); drate|T, dper|T, dconc|T (declared on @job; a live value wins);
--                 pause|T, pause (ms a RateLimited pause of T or the queue ends); since, since|T (throttled-time clocks)
--   rlog, rlog:T  zset: starts in the current window (member id@ms, score ms)
--   run:T         zset: running jobs of type T by lease deadline (the queue uses `active`)
--   held          zset: job types with held jobs, by the ms to look at them again
--   held:T        zset: jobs of type T held back by a limit, scored like the ready set (by
--                 priority, then in the order held: held_score)
-- A held job keeps status 'ready': it waits, it neither fails nor spends an attempt.
local LIMITS_RECHECK_MS = 250
local LIMITS_SCAN = 1000
local LIMITS_FORGET_MS = 600000
local limits_reply_state = nil

local function limit_base(active)
  return string.sub(active, 1, -7)
end

-- Any limit, pause or held job in this queue? (all a queue without limits pays: one EXISTS)
local function limits_on(active)
  local base = limit_base(active)
  return redis.call('EXISTS', base .. 'limits', base .. 'held') > 0
end

local function limits_config(base)
  local flat = redis.call('HGETALL', base .. 'limits')
  local cfg = {}
  for i = 1, #flat, 2 do cfg[flat[i]] = flat[i + 1] end
  return cfg
end

-- scope: '' for the queue, '|' .. type for a job type. A value set live beats a declared one.
local function limit_rate(cfg, scope)
  local rate = cfg['rate' .. scope]
  if rate then return tonumber(rate), tonumber(cfg['per' .. scope]) end
  rate = cfg['drate' .. scope]
  if rate then return tonumber(rate), tonumber(cfg['dper' .. scope]) end
  return nil, nil
end

local function limit_conc(cfg, scope)
  return tonumber(cfg['conc' .. scope] or cfg['dconc' .. scope])
end

-- Starts still allowed in the window (now - per, now], or 0 and the ms until one more is.
local function rate_room(log, rate, per, now)
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - per)
  local used = redis.call('ZCARD', log)
  if used < rate then return rate - used, 0 end
  local edge = redis.call('ZRANGE', log, used - rate, used - rate, 'WITHSCORES')
  return 0, math.max(1, tonumber(edge[2]) + per - now)
end

-- Running jobs counted by a lease zset: leases in force (expired ones are the recoverer's).
local function running(zset, now)
  redis.call('ZREMRANGEBYSCORE', zset, '-inf', now - LIMITS_FORGET_MS)
  return redis.call('ZCOUNT', zset, '(' .. now, '+inf')
end

-- How many more jobs the queue-wide limits let start now, or 0 and the ms to wait (-1: until a
-- running job ends).
local function queue_room(base, active, cfg, now)
  local pause = tonumber(cfg['pause'])
  if pause then
    if pause > now then return 0, pause - now end
    redis.call('HDEL', base .. 'limits', 'pause')
  end
  local room = 1e9
  local rate, per = limit_rate(cfg, '')
  if rate then
    local r, wait = rate_room(base .. 'rlog', rate, per, now)
    if r == 0 then return 0, wait end
    room = r
  end
  local conc = limit_conc(cfg, '')
  if conc then
    local busy = redis.call('ZCOUNT', active, '(' .. now, '+inf')
    if busy >= conc then return 0, -1 end
    if conc - busy < room then room = conc - busy end
  end
  return room, 0
end

-- The same for one job type: its pause, rate and concurrency limits.
local function type_room(base, cfg, jtype, now)
  local pause = tonumber(cfg['pause|' .. jtype])
  if pause then
    if pause > now then return 0, pause - now end
    redis.call('HDEL', base .. 'limits', 'pause|' .. jtype)
  end
  local room = 1e9
  local rate, per = limit_rate(cfg, '|' .. jtype)
  if rate then
    local r, wait = rate_room(base .. 'rlog:' .. jtype, rate, per, now)
    if r == 0 then return 0, wait end
    room = r
  end
  local conc = limit_conc(cfg, '|' .. jtype)
  if conc then
    local busy = running(base .. 'run:' .. jtype, now)
    if busy >= conc then return 0, -1 end
    if conc - busy < room then room = conc - busy end
  end
  return room, 0
end

-- Add the time since a throttled-time clock last ran to the stats; keep it running or stop it.
local function limits_clock(base, field, stat, now, keep)
  local since = redis.call('HGET', base .. 'limits', field)
  if since then
    redis.call('HINCRBY', base .. 'stats', stat, now - tonumber(since))
  end
  if keep then
    redis.call('HSET', base .. 'limits', field, now)
  elseif since then
    redis.call('HDEL', base .. 'limits', field)
  end
end

local function limits_started(base, cfg, id, jtype, now, deadline)
  local member = id .. '@' .. now
  local rate, per = limit_rate(cfg, '')
  if rate then
    redis.call('ZADD', base .. 'rlog', now, member)
    redis.call('PEXPIRE', base .. 'rlog', per)
  end
  rate, per = limit_rate(cfg, '|' .. jtype)
  if rate then
    redis.call('ZADD', base .. 'rlog:' .. jtype, now, member)
    redis.call('PEXPIRE', base .. 'rlog:' .. jtype, per)
  end
  if limit_conc(cfg, '|' .. jtype) then
    redis.call('ZADD', base .. 'run:' .. jtype, deadline, id)
  end
end

-- A held job's score in its type's held set: by priority, then in the order held (like the
-- ready set; at_head: first within its priority, as a job given back by RateLimited).
local function held_score(base, priority, at_head)
  local seq = redis.call('INCR', base .. 'ready:seq')
  if at_head then seq = -seq end
  return string.format('%.0f', -(tonumber(priority) or 0) * PRIO_STEP + PRIO_MID + seq)
end

-- Hold a ready job of a limited type: behind the type's older held jobs of its priority, looked
-- at again when its limit frees (wait ms; 0 keeps the type's time, -1 a re-check, or a wake on
-- release).
local function hold_job(base, held_types, jtype, id, priority, wait, now)
  redis.call('ZADD', base .. 'held:' .. jtype, held_score(base, priority, false), id)
  if not held_types[jtype] then
    local at = now + LIMITS_RECHECK_MS
    if wait > 0 then at = now + wait end
    redis.call('ZADD', base .. 'held', at, jtype)
    redis.call('HSETNX', base .. 'limits', 'since|' .. jtype, now)
    held_types[jtype] = true
  end
end

-- lease_ready when the queue has limits: the queue-wide room caps how many start; then held
-- types whose time came go first (oldest first), then the ready list, where a job whose type has
-- no room (or has older held jobs) moves to its type's held list instead of blocking the rest.
-- Leaves {throttled 0|1, wait ms or -1} in limits_reply_state for the fetch reply (throttled
-- also when this fetch took the queue's last room: the queue is not empty, it is full).
local function lease_limited(ready, active, events, job_prefix, n, worker, lease_ms, maxlen)
  local base = limit_base(active)
  local cfg = limits_config(base)
  local now = now_ms()
  local room, wait = queue_room(base, active, cfg, now)
  if room == 0 then
    limits_clock(base, 'since', 'throttled_ms', now, true)
    limits_reply_state = {1, wait}
    return {}
  end
  if cfg['since'] then limits_clock(base, 'since', 'throttled_ms', now, false) end
  local capped = room < n
  if capped then n = room end
  local chosen, chosen_types, rooms, held_types = {}, {}, {}, {}
  local function room_of(jtype)
    local r = rooms[jtype]
    if not r then
      local left, w = type_room(base, cfg, jtype, now)
      r = {left, w}
      rooms[jtype] = r
    end
    return r
  end
  local function choose(id, jtype, r)
    chosen[#chosen + 1] = id
    chosen_types[#chosen_types + 1] = jtype
    r[1] = r[1] - 1
  end
  local held = base .. 'held'
  local all = redis.call('ZRANGE', held, 0, -1, 'WITHSCORES')
  for i = 1, #all, 2 do held_types[all[i]] = true end
  for i = 1, #all, 2 do
    if tonumber(all[i + 1]) > now or #chosen >= n then break end
    local jtype = all[i]
    local list = base .. 'held:' .. jtype
    local r = room_of(jtype)
    while r[1] > 0 and #chosen < n do
      local top = redis.call('ZPOPMIN', list)
      if #top == 0 then break end
      local id = top[1]
      if redis.call('HGET', job_prefix .. id, 'status') == 'ready' then choose(id, jtype, r) end
    end
    local left = redis.call('ZCARD', list)
    limits_clock(base, 'since|' .. jtype, 'throttled_ms|' .. jtype, now, left > 0)
    if left == 0 then
      redis.call('ZREM', held, jtype)
      held_types[jtype] = nil
    elseif r[1] <= 0 then
      local at = now + LIMITS_RECHECK_MS
      if r[2] > 0 then at = now + r[2] end
      redis.call('ZADD', held, at, jtype)
    end
  end
  local limited, budget = {}, LIMITS_SCAN
  while #chosen < n and budget > 0 do
    local want = n - #chosen
    if want > budget then want = budget end
    local ids = pop_ready(ready, want)
    if #ids == 0 then break end
    budget = budget - #ids
    for _, id in ipairs(ids) do
      local f = redis.call('HMGET', job_prefix .. id, 'status', 'type', 'priority')
      if f[1] == 'ready' then
        local jtype = f[2]
        local r = nil
        if not held_types[jtype] then r = room_of(jtype) end
        if r and r[1] > 0 then
          choose(id, jtype, r)
        else
          hold_job(base, held_types, jtype, id, f[3], r and r[2] or 0, now)
          limited[jtype] = (limited[jtype] or 0) + 1
        end
      end
    end
  end
  local out = {}
  if #chosen > 0 then
    out = lease_ids(chosen, active, events, job_prefix, worker, lease_ms, maxlen, now)
    for i, id in ipairs(chosen) do
      limits_started(base, cfg, id, chosen_types[i], now, now + lease_ms)
    end
  end
  if capped and #chosen >= n then
    -- The queue's room ran out in this very fetch: say so (and when it frees), or the caller
    -- takes "fewer than asked" for an empty queue and waits for a push that may never come.
    local _, w = queue_room(base, active, cfg, now)
    limits_reply_state = {1, w}
  end
  local total = 0
  for jtype, c in pairs(limited) do
    redis.call('HINCRBY', base .. 'stats', 'limited|' .. jtype, c)
    total = total + c
  end
  if total > 0 then redis.call('HINCRBY', base .. 'stats', 'limited', total) end
  if limits_reply_state then return out end
  local head = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
  local hint = -1
  if head[2] then hint = math.max(0, tonumber(head[2]) - now) end
  limits_reply_state = {0, hint}
  return out
end

-- Jobs that stopped running (ack, fail, release, cancel, lost lease; ids with their types):
-- free their concurrency slots, and wake every process's fetcher when a limit held work back.
local function limits_release(active, ids, types)
  if not limits_on(active) then return end
  local base = limit_base(active)
  local wake = redis.call('HEXISTS', base .. 'limits', 'conc') == 1
  for i, id in ipairs(ids) do
    local jtype = types[i]
    if jtype and redis.call('ZREM', base .. 'run:' .. jtype, id) == 1 and redis.call('ZSCORE', base .. 'held', jtype) then
      redis.call('ZADD', base .. 'held', 0, jtype)
      wake = true
    end
  end
  if wake then redis.call('PUBLISH', base .. 'limits_wake', 'limits') end
end

-- A heartbeat extended a job's lease: its type's concurrency slot lasts as long.
local function limits_extend(active, key, id, deadline)
  local jtype = redis.call('HGET', key, 'type')
  if jtype then
    redis.call('ZADD', limit_base(active) .. 'run:' .. jtype, 'XX', deadline, id)
  end
end

-- Jobs held back by a limit (they are ready jobs: forget_queue counts them as such).
local function limits_held_jobs(active)
  local base = limit_base(active)
  local n = 0
  for _, jtype in ipairs(redis.call('ZRANGE', base .. 'held', 0, -1)) do
    n = n + redis.call('ZCARD', base .. 'held:' .. jtype)
  end
  return n
end

-- A forgotten queue's limits go with it (like its pause flag).
local function limits_forget(active)
  local base = limit_base(active)
  local cfg = limits_config(base)
  local keys = {base .. 'limits', base .. 'rlog', base .. 'held'}
  for name, _ in pairs(cfg) do
    local what, jtype = string.match(name, '^(%a+)|(.*)$')
    if what == 'rate' or what == 'drate' or what == 'conc' or what == 'dconc' then
      keys[#keys + 1] = base .. 'rlog:' .. jtype
      keys[#keys + 1] = base .. 'run:' .. jtype
    end
  end
  redis.call('DEL', unpack(keys))
end

-- The fetch reply: {'limited', throttled 0|1, wait ms or -1, jobs...} when limits were looked at.
local function limits_reply(out)
  if limits_reply_state then
    table.insert(out, 1, limits_reply_state[2])
    table.insert(out, 1, limits_reply_state[1])
    table.insert(out, 1, 'limited')
  end
  return out
end

-- Lease up to n jobs from the ready list to one worker (fetch, and promote when the promoting
-- process has idle slots). Returns a flat list of 11 fields per job.
local function lease_ready(ready, active, events, job_prefix, n, worker, lease_ms, maxlen)
  if limits_on(active) then
    return lease_limited(ready, active, events, job_prefix, n, worker, lease_ms, maxlen)
  end
  local ids = pop_ready(ready, n)
  if #ids == 0 then
    return {}
  end
  return lease_ids(ids, active, events, job_prefix, worker, lease_ms, maxlen)
end

-- Write a new job record (enqueue, and schedules firing a slot): one field list for both.
local function put_job(key, id, jtype, queue, payload, status, max_attempts, timeout_ms, base_ms, cap_ms, now, due)
  redis.call('HSET', key, 'id', id, 'type', jtype, 'queue', queue, 'payload', payload,
    'status', status, 'attempts', 0, 'max_attempts', max_attempts, 'timeout_ms', timeout_ms,
    'backoff_base_ms', base_ms, 'backoff_cap_ms', cap_ms, 'created_at', now, 'due_at', due,
    'progress', 0)
end
