-- Workflow helpers, prepended to every script after _common.lua (see core/workflow_store.py).
-- A workflow lives in one queue: its hash is <prefix>:{queue}:wf:<id>, beside the queue's keys,
-- so every helper derives the keys it needs from a queue key the script already has (one slot).
-- Hash fields: id, queue, status, policy, total, done, live (nodes with a job not yet final),
-- created_at, finished_at, failed_node, error, shape, retention, ctl; per node i: n:i (spec JSON:
-- id, type, payload, max_attempts, timeout_ms, base, cap, parents, children), s:i (pending, held,
-- queued, succeeded, dead, cancelled), w:i (dependencies not yet succeeded), r:i (result), e:i.
-- Node job ids are UUIDs with version nibble 8 (plain jobs have 4 or 5): hooks return at once
-- for any other job, without a Redis call.

local function wf_is_node(id)
  return string.byte(id, 15) == 56
end

-- The queue's key base (<prefix>:{queue}) from one of its keys ending in `suffix`.
local function wf_base(key, suffix)
  return string.sub(key, 1, #key - #suffix)
end

-- The base from a queue-level key (<base>:ready, <base>:active, ...).
local function wf_base_of(qkey)
  return string.match(qkey, '^(.*):[^:]*$')
end

-- Create node i's job, ready now, with its parents' results as `inputs` (a JSON array in
-- parent order). Returns the job id; the caller emits the 'ready' event.
local function wf_start_node(base, wk, wf_id, queue, i, now)
  local spec = cjson.decode(redis.call('HGET', wk, 'n:' .. i))
  local inputs = {}
  for k, p in ipairs(spec.parents) do
    inputs[k] = redis.call('HGET', wk, 'r:' .. p) or 'null'
  end
  local key = base .. ':job:' .. spec.id
  put_job(key, spec.id, spec.type, queue, spec.payload, 'ready', spec.max_attempts, spec.timeout_ms,
    spec.base, spec.cap, now, now)
  redis.call('HSET', key, 'wf', wf_id, 'node', i, 'inputs', '[' .. table.concat(inputs, ',') .. ']')
  push_ready(base .. ':ready', {spec.id}, {spec.priority}, false)
  redis.call('HSET', wk, 's:' .. i, 'queued')
  redis.call('HINCRBY', wk, 'live', 1)
  redis.call('HINCRBY', base .. ':stats', 'enqueued', 1)
  redis.call('HINCRBY', base .. ':stats', 'enqueued|' .. spec.type, 1)
  return spec.id
end

-- Start a node again from scratch (retry): its old job record and index entries go first. The
-- fetch count goes on from at least the clock in ms (even if the old record is gone): lease
-- tokens are <worker>/<fetches>, and a count from 0 would hand the same worker the token of an
-- attempt it may still be finishing, whose late ack would then pass.
local function wf_restart_node(base, wk, wf_id, queue, i, now)
  local spec = cjson.decode(redis.call('HGET', wk, 'n:' .. i))
  local key = base .. ':job:' .. spec.id
  local fetches = redis.call('HGET', key, 'fetches')
  redis.call('ZREM', base .. ':dead', spec.id)
  redis.call('ZREM', base .. ':cancelled', spec.id)
  redis.call('DEL', key)
  redis.call('HDEL', wk, 'e:' .. i)
  local id = wf_start_node(base, wk, wf_id, queue, i, now)
  redis.call('HSET', key, 'fetches', math.max(tonumber(fetches) or 0, now))
  return id
end

-- End a running workflow when nothing is left to do: succeeded when every node did, failed when
-- no node can run any more (a dead node's dependents wait for a retry).
local function wf_settle(wk, now)
  local m = redis.call('HMGET', wk, 'status', 'done', 'total', 'live', 'retention')
  if m[1] ~= 'running' then return end
  if tonumber(m[2]) >= tonumber(m[3]) then
    redis.call('HSET', wk, 'status', 'succeeded', 'finished_at', now)
    redis.call('PEXPIRE', wk, tonumber(m[5]))
  elseif tonumber(m[4]) <= 0 then
    redis.call('HSET', wk, 'status', 'failed', 'finished_at', now)
  end
end

-- Stop a running workflow (cancel, or fail_fast after a node died): ready and waiting nodes are
-- cancelled now, running ones are asked to stop (their worker hears it on its control channel or
-- its next heartbeat), nodes not started stay as they are and show as skipped.
local function wf_stop(base, wk, status, now, maxlen)
  local m = redis.call('HMGET', wk, 'total', 'retention', 'ctl')
  local total, retention = tonumber(m[1]), tonumber(m[2])
  redis.call('HSET', wk, 'status', status, 'finished_at', now)
  local cancelled = {}
  for i = 0, total - 1 do
    if redis.call('HGET', wk, 's:' .. i) == 'queued' then
      local spec = cjson.decode(redis.call('HGET', wk, 'n:' .. i))
      local key = base .. ':job:' .. spec.id
      local f = redis.call('HMGET', key, 'status', 'worker')
      if f[1] == 'active' then
        -- wf_stop marks the request as the workflow's: if the workflow is resumed before the
        -- worker stops, the node runs again instead of failing the resumed workflow (wf_on_end).
        redis.call('HSET', key, 'cancel_requested', 1, 'wf_stop', 1)
        if f[2] then redis.call('PUBLISH', m[3] .. f[2], 'cancel ' .. spec.id) end
      else
        if f[1] == 'waiting' then
          redis.call('ZREM', base .. ':waiting', spec.id)
        elseif f[1] == 'ready' then
          -- Wherever it waits: the list, the priority set, or its type's held set (a restart
          -- of the node would otherwise find its id there twice).
          remove_ready(base .. ':ready', spec.id, redis.call('HGET', key, 'type'))
        end
        if f[1] then
          redis.call('HSET', key, 'status', 'cancelled', 'finished_at', now)
          redis.call('PEXPIRE', key, retention)
          redis.call('ZADD', base .. ':cancelled', now, spec.id)
          redis.call('HINCRBY', base .. ':stats', 'cancelled', 1)
          cancelled[#cancelled + 1] = spec.id
        end
        redis.call('HSET', wk, 's:' .. i, 'cancelled', 'e:' .. i, 'cancelled: workflow ' .. status)
        redis.call('HINCRBY', wk, 'live', -1)
      end
    end
  end
  emit_batch(base .. ':events', maxlen, 'cancelled', cancelled)
  if status == 'cancelled' then redis.call('PEXPIRE', wk, retention) end
end

-- Ack hook: node `id` succeeded. Its result is kept in the workflow hash; each child whose last
-- dependency this was becomes ready here, in the ack's own script (held if the workflow stopped).
-- Its own copy of its parents' results goes: only a run needs it (a 1,000-wide fan-in's would
-- otherwise be kept twice, here and in the workflow, for the whole retention).
local function wf_on_success(qkey, key, id, result, now, maxlen)
  if not wf_is_node(id) then return end
  local f = redis.call('HMGET', key, 'wf', 'node')
  if not f[1] then return end
  redis.call('HDEL', key, 'inputs')
  local base = wf_base_of(qkey)
  local wk = base .. ':wf:' .. f[1]
  local i = f[2]
  if redis.call('HGET', wk, 's:' .. i) ~= 'queued' then return end
  redis.call('HSET', wk, 's:' .. i, 'succeeded', 'r:' .. i, result)
  redis.call('HINCRBY', wk, 'done', 1)
  redis.call('HINCRBY', wk, 'live', -1)
  local m = redis.call('HMGET', wk, 'status', 'queue')
  local spec = cjson.decode(redis.call('HGET', wk, 'n:' .. i))
  local started = {}
  for _, c in ipairs(spec.children) do
    if redis.call('HINCRBY', wk, 'w:' .. c, -1) == 0 then
      if m[1] == 'running' then
        started[#started + 1] = wf_start_node(base, wk, f[1], m[2], c, now)
      else
        redis.call('HSET', wk, 's:' .. c, 'held')
      end
    end
  end
  emit_batch(base .. ':events', maxlen, 'ready', started)
  wf_settle(wk, now)
end

-- Hook for a node that went dead or was cancelled (fail, recover, cancel, finish_cancel,
-- delete): under fail_fast the workflow fails and stops; under continue the others go on.
local function wf_on_end(qkey, key, id, status, now, maxlen)
  if not wf_is_node(id) then return end
  local f = redis.call('HMGET', key, 'wf', 'node', 'error', 'wf_stop')
  if not f[1] then return end
  local base = wf_base_of(qkey)
  local wk = base .. ':wf:' .. f[1]
  local i = f[2]
  if redis.call('HGET', wk, 's:' .. i) ~= 'queued' then return end
  local err = f[3] or status
  if status == 'cancelled' then err = 'cancelled' end
  redis.call('HSET', wk, 's:' .. i, status, 'e:' .. i, err)
  redis.call('HINCRBY', wk, 'live', -1)
  local m = redis.call('HMGET', wk, 'status', 'policy', 'failed_node', 'queue')
  if m[1] ~= 'running' then return end
  if status == 'cancelled' and f[4] == '1' then
    -- Stopped by its workflow, which was resumed before the worker stopped: run it again.
    emit_batch(base .. ':events', maxlen, 'ready', {wf_restart_node(base, wk, f[1], m[4], i, now)})
    return
  end
  if m[2] == 'fail_fast' then
    redis.call('HSET', wk, 'failed_node', i, 'error', err)
    wf_stop(base, wk, 'failed', now, maxlen)
    return
  end
  if not m[3] then redis.call('HSET', wk, 'failed_node', i, 'error', err) end
  wf_settle(wk, now)
end

-- Make a stopped workflow run again: held nodes start, cancelled ones (and dead ones when
-- `with_dead`) start afresh. Returns the number of nodes started.
local function wf_resume(base, wk, now, maxlen, with_dead)
  local m = redis.call('HMGET', wk, 'id', 'queue', 'total')
  redis.call('HSET', wk, 'status', 'running')
  redis.call('HDEL', wk, 'finished_at', 'failed_node', 'error')
  redis.call('PERSIST', wk)
  local started = {}
  for i = 0, tonumber(m[3]) - 1 do
    local s = redis.call('HGET', wk, 's:' .. i)
    if s == 'held' then
      started[#started + 1] = wf_start_node(base, wk, m[1], m[2], i, now)
    elseif s == 'cancelled' or (with_dead and s == 'dead') then
      started[#started + 1] = wf_restart_node(base, wk, m[1], m[2], i, now)
    end
  end
  emit_batch(base .. ':events', maxlen, 'ready', started)
  return #started
end

-- Retry hook: a dead or cancelled node's job went back to ready (retry, retry_dead); the
-- workflow resumes (its other dead nodes stay dead until retried).
local function wf_on_retry(qkey, key, id, now, maxlen)
  if not wf_is_node(id) then return end
  local f = redis.call('HMGET', key, 'wf', 'node')
  if not f[1] then return end
  local base = wf_base_of(qkey)
  local wk = base .. ':wf:' .. f[1]
  local i = f[2]
  local s = redis.call('HGET', wk, 's:' .. i)
  if s ~= 'dead' and s ~= 'cancelled' then return end
  redis.call('HSET', wk, 's:' .. i, 'queued')
  redis.call('HDEL', wk, 'e:' .. i)
  redis.call('HINCRBY', wk, 'live', 1)
  if redis.call('HGET', wk, 'status') ~= 'running' then
    wf_resume(base, wk, now, maxlen, false)
  elseif redis.call('HGET', wk, 'failed_node') == i then
    redis.call('HDEL', wk, 'failed_node', 'error')
  end
end

-- Drop index entries whose workflow hash has expired (a finished workflow's hash expires with the
-- queue's retention; its entry would stay for ever). `sample` > 0 looks at that many random
-- entries (each submit does: the index then holds at most a few times the live workflows);
-- 0 looks at all. Returns the entries left.
local function wf_prune_index(index, base, sample)
  local ids
  if sample > 0 then
    ids = redis.call('ZRANDMEMBER', index, sample)
  else
    ids = redis.call('ZRANGE', index, 0, -1)
  end
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', base .. ':wf:' .. id) == 0 then redis.call('ZREM', index, id) end
  end
  return redis.call('ZCARD', index)
end
