-- Submit a workflow atomically: its hash with every node's spec, its entry in the queue's
-- workflow index, and a ready job for each node without dependencies. Nodes with dependencies
-- get a counter; the script that acks their last dependency starts them (_workflow.lua).
-- KEYS: workflow hash, workflow index, ready, events, stats, job-key prefix
-- ARGV: workflow id, queue, policy, shape JSON, retention_ms, control_channel_prefix,
--       events_maxlen, n, then per node: spec JSON (id, type, payload, max_attempts, timeout_ms,
--       base, cap, parents, children)
-- Returns {'created' | 'exists', created_at}
local wk, index = KEYS[1], KEYS[2]
local base = wf_base(KEYS[6], ':job:')
local wf_id, queue, n = ARGV[1], ARGV[2], tonumber(ARGV[8])
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
  local spec_json = ARGV[9 + i]
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
redis.call('ZADD', index, now, wf_id)
emit_batch(KEYS[4], ARGV[7], 'ready', started)
return {'created', now}
