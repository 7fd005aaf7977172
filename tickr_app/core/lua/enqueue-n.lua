-- Enqueue a batch of jobs: ready now, or waiting until their due time.
-- KEYS: ready, waiting, events, stats, then per job: job hash, idempotency key (or the job hash again)
-- ARGV: wake_channel, events_maxlen, idem_ttl_ms, queue, n,
--       then per job: id, type, payload, delay_ms, run_at_ms, max_attempts, timeout_ms,
--                     backoff_base_ms, backoff_cap_ms, idem_key_or_empty, request_fingerprint,
--                     priority (0: the ready list, the fast path; see push_ready)
-- An idempotency key stores "<job id> <fingerprint of the request>": a later submit with the same
-- key gets the original job only if it asked for the same thing (keys written before fingerprints
-- existed hold a bare id and match any request).
-- Returns per job: {id, 1 if created (or created by an earlier send of this same call) |
--                  0 if an idempotency key matched an earlier job with the same request |
--                  2 if it matched an earlier job with a different request (nothing enqueued)}
local ready, waiting, events, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local wake, maxlen, idem_ttl, queue, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = now_ms()
local out = {}
local now_ready, now_waiting = {}, {}
local ready_prios = {}
local by_type = {}
for i = 0, n - 1 do
  local a = 6 + i * 12
  local id, jtype = ARGV[a], ARGV[a + 1]
  local job_key, idem_key = KEYS[5 + i * 2], KEYS[6 + i * 2]
  local has_idem = ARGV[a + 9] ~= ''
  local existing, same_request = false, true
  if has_idem then
    existing = redis.call('GET', idem_key)
    if existing then
      local space = string.find(existing, ' ', 1, true)
      if space then
        same_request = string.sub(existing, space + 1) == ARGV[a + 10]
        existing = string.sub(existing, 1, space - 1)
      end
    end
  end
  if not existing and redis.call('EXISTS', job_key) == 1 then
    -- The same call ran before and its reply was lost (the client re-sent it after a
    -- connection error): this job is already enqueued; enqueue it only once.
    out[#out + 1] = id
    out[#out + 1] = 1
  elseif existing then
    out[#out + 1] = existing
    if same_request then out[#out + 1] = 0 else out[#out + 1] = 2 end
  else
    local delay, run_at = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
    local due = now
    if run_at >= 0 then due = run_at elseif delay > 0 then due = now + delay end
    local status = 'ready'
    if due > now then status = 'waiting' end
    put_job(job_key, id, jtype, queue, ARGV[a + 2], status, ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8],
      now, due)
    if has_idem then
      redis.call('HSET', job_key, 'idempotency_key', ARGV[a + 9])
      redis.call('SET', idem_key, id .. ' ' .. ARGV[a + 10], 'PX', idem_ttl)
    end
    if ARGV[a + 11] ~= '0' then
      redis.call('HSET', job_key, 'priority', ARGV[a + 11])
    end
    if status == 'waiting' then
      schedule(waiting, wake, id, due)
      now_waiting[#now_waiting + 1] = id
    else
      now_ready[#now_ready + 1] = id
      ready_prios[#now_ready] = ARGV[a + 11]
    end
    by_type[jtype] = (by_type[jtype] or 0) + 1
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
if #now_ready > 0 then
  push_ready(ready, now_ready, ready_prios, false)
end
local created = #now_ready + #now_waiting
if created > 0 then
  redis.call('HINCRBY', stats, 'enqueued', created)
  count_by_type(stats, 'enqueued', by_type)
end
emit_batch(events, maxlen, 'ready', now_ready)
emit_batch(events, maxlen, 'waiting', now_waiting)
return out
