-- Submit a workflow atomically: its hash with every node's spec, its entry in the queue's
-- workflow index, and a ready job for each node without dependencies. Nodes with dependencies
-- get a counter; the script that acks their last dependency starts them (_workflow.lua).
-- An idempotency key stores "<workflow id> <fingerprint of the request>" (as enqueue does for
-- jobs): a later submit with the same key gets the first workflow if it asked for the same thing.
-- KEYS: workflow hash, workflow index, ready, events, stats, job-key prefix,
--       idempotency key (or the workflow hash again)
-- ARGV: workflow id, queue, policy, shape JSON, retention_ms, control_channel_prefix,
--       events_maxlen, n, idem_key_or_empty, request_fingerprint, idem_ttl_ms,
--       then per node: spec JSON (id, type, payload, max_attempts, timeout_ms, base, cap,
--       parents, children)
-- Returns {'created' | 'exists', created_at}, or {'matched' | 'conflict', earlier workflow id}
local wk, index = KEYS[1], KEYS[2]
local base = wf_base(KEYS[6], ':job:')
local wf_id, queue, n = ARGV[1], ARGV[2], tonumber(ARGV[8])
if ARGV[9] ~= '' then
  local earlier = redis.call('GET', KEYS[7])
  if earlier then
    local space = string.find(earlier, ' ', 1, true)
    local same = string.sub(earlier, space + 1) == ARGV[10]
    return {same and 'matched' or 'conflict', string.sub(earlier, 1, space - 1)}
  end
end
if redis.call('EXISTS', wk) == 1 then
  -- The same call ran before and its reply was lost: submit it only once.
  return {'exists', redis.call('HGET', wk, 'created_at')}
end
local now = now_ms()
redis.call('HSET', wk, 'id', wf_id, 'queue', queue, 'status', 'running', 'policy', ARGV[3],
  'shape', ARGV[4], 'retention', ARGV[5], 'ctl', ARGV[6], 'total', n, 'done', 0, 'live', 0,
  'created_at', now)
local roots = {}
for i = 0, n - 1 do
  local spec_json = ARGV[12 + i]
  redis.call('HSET', wk, 'n:' .. i, spec_json)
  local parents = #cjson.decode(spec_json).parents
  if parents == 0 then
    roots[#roots + 1] = i
  else
    redis.call('HSET', wk, 's:' .. i, 'pending', 'w:' .. i, parents)
  end
end
local started = {}
for _, i in ipairs(roots) do
  started[#started + 1] = wf_start_node(base, wk, wf_id, queue, i, now)
end
wf_prune_index(index, base, 3)
redis.call('ZADD', index, now, wf_id)
if ARGV[9] ~= '' then
  redis.call('SET', KEYS[7], wf_id .. ' ' .. ARGV[10], 'PX', ARGV[11])
end
emit_batch(KEYS[4], ARGV[7], 'ready', started)
return {'created', now}
