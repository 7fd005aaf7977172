-- One scheduler step for a queue's schedules: carry out the plans the caller computed (fire
-- due slots, advance each schedule), then report what is due now and what comes next.
-- Exactly once per slot: a plan runs only if the schedule still has the next slot and the
-- revision the plan was computed from (compare-and-set), only for slots not after Redis' now
-- (never early), and each slot's job has an id derived from (schedule, slot), so a job that
-- exists already is not created again (a re-sent call after a lost reply is a no-op).
-- When the calling process has idle slots (lease_n > 0) and the queue is not paused, the jobs
-- it created are leased to it at once, as the promote script does for delayed jobs.
-- KEYS: schedule_due, ready, events, stats, schedule-hash prefix, job-key prefix, active, paused
-- ARGV: events_maxlen, queue, report_limit, lease_n, worker_id, lease_ms, plan count,
--       per plan: id, expected next, expected rev, valid_until_ms (-1: any time), new next,
--                 skipped, slot count, then per slot: slot ms, job id
-- Returns {redis_now_us, plans carried out, jobs created, reported count,
--          then per reported schedule (every due one up to report_limit, then the first not
--          yet due): id, next, rev, cron, every_ms, tz, start_ms, end_ms, misfire, grace_ms,
--          max_catchup}, then leased jobs (11 fields each, as lease_ready)
local due, ready, events, stats, sprefix, jprefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local active, paused = KEYS[7], KEYS[8]
local maxlen, queue, limit, lease_n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local worker, lease_ms, nplans = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local live = {waiting = true, ready = true, active = true}
local carried, created = 0, 0
local new_ready, by_type = {}, {}
local new_prios = {}
local a = 8
for _ = 1, nplans do
  local id, expect_next, expect_rev = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local valid_until, new_next = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local skipped, nslots = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local first_slot = a + 7
  a = first_slot + nslots * 2
  local key = sprefix .. id
  local f = redis.call('HMGET', key, 'next', 'rev', 'paused', 'type', 'payload', 'max_attempts', 'timeout_ms',
    'backoff_base_ms', 'backoff_cap_ms', 'overlap', 'last_job', 'priority')
  local ok = f[1] == expect_next and f[2] == expect_rev and f[3] ~= '1'
  if ok and valid_until >= 0 and now >= valid_until then ok = false end
  if ok then
    for i = 0, nslots - 1 do
      if tonumber(ARGV[first_slot + i * 2]) > now then ok = false end
    end
  end
  if ok then
    carried = carried + 1
    local fire = true
    if f[10] == 'skip' and f[11] and f[11] ~= '' then
      -- Overlap 'skip': the previous run of this schedule is still waiting, ready or running.
      if live[redis.call('HGET', jprefix .. f[11], 'status') or ''] then
        fire = false
        skipped = skipped + nslots
      end
    end
    local last_slot, last_job, fired = nil, nil, 0
    if fire then
      for i = 0, nslots - 1 do
        local slot, job_id = ARGV[first_slot + i * 2], ARGV[first_slot + i * 2 + 1]
        local job_key = jprefix .. job_id
        if redis.call('EXISTS', job_key) == 0 then
          put_job(job_key, job_id, f[4], queue, f[5], 'ready', f[6], f[7], f[8], f[9], now, slot)
          redis.call('HSET', job_key, 'schedule', id, 'slot', slot)
          new_ready[#new_ready + 1] = job_id
          if f[12] and f[12] ~= '0' then
            redis.call('HSET', job_key, 'priority', f[12])
            new_prios[#new_ready] = f[12]
          end
          by_type[f[4]] = (by_type[f[4]] or 0) + 1
          fired = fired + 1
        end
        last_slot, last_job = slot, job_id
      end
    end
    created = created + fired
    redis.call('HSET', key, 'next', new_next)
    if last_job then
      redis.call('HSET', key, 'last_slot', last_slot, 'last_job', last_job, 'last_fired_at', now)
    end
    if fired > 0 then redis.call('HINCRBY', key, 'fired', fired) end
    if skipped > 0 then redis.call('HINCRBY', key, 'skipped', skipped) end
    if new_next < 0 then
      redis.call('ZREM', due, id)
    else
      redis.call('ZADD', due, new_next, id)
    end
  end
end
if #new_ready > 0 then
  push_ready(ready, new_ready, new_prios, false)
  redis.call('HINCRBY', stats, 'enqueued', #new_ready)
  count_by_type(stats, 'enqueued', by_type)
  emit_batch(events, maxlen, 'ready', new_ready)
end
local out = {now_us, carried, created, 0}
local head = redis.call('ZRANGE', due, 0, limit, 'WITHSCORES')
for i = 1, #head, 2 do
  out[4] = out[4] + 1
  local id, nxt = head[i], tonumber(head[i + 1])
  local d = redis.call('HMGET', sprefix .. id, 'rev', 'cron', 'every_ms', 'tz', 'start_ms', 'end_ms', 'misfire',
    'grace_ms', 'max_catchup')
  out[#out + 1] = id
  out[#out + 1] = nxt
  for _, v in ipairs(d) do out[#out + 1] = v or '' end
  if nxt > now then break end
end
if #new_ready > 0 and lease_n > 0 and redis.call('EXISTS', paused) == 0 then
  local leased = lease_ready(ready, active, events, jprefix, lease_n, worker, lease_ms, maxlen)
  for _, v in ipairs(leased) do out[#out + 1] = v end
end
return out
