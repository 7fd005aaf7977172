-- Delete a workflow that has ended: its hash, its index entry and its node jobs' records (they
-- leave the succeeded, dead and cancelled sets too). A running workflow must be cancelled first,
-- and a stopped one whose running nodes were asked to stop must wait until they have.
-- KEYS: workflow hash, workflow index, job-key prefix
-- ARGV: workflow id, events_maxlen
-- Returns 'deleted', 'missing', 'running', or 'stopping' (nodes still running)
local wk, index, job_prefix = KEYS[1], KEYS[2], KEYS[3]
local base = wf_base(job_prefix, ':job:')
local m = redis.call('HMGET', wk, 'status', 'live', 'total')
if not m[1] then
  redis.call('ZREM', index, ARGV[1])
  return 'missing'
end
if m[1] == 'running' then return 'running' end
if tonumber(m[2]) > 0 then return 'stopping' end
local deleted = {}
for i = 0, tonumber(m[3]) - 1 do
  local s = redis.call('HGET', wk, 's:' .. i)
  if s ~= 'pending' and s ~= 'held' then
    local id = cjson.decode(redis.call('HGET', wk, 'n:' .. i)).id
    local status = redis.call('HGET', job_prefix .. id, 'status')
    if status == 'succeeded' or status == 'dead' or status == 'cancelled' then
      redis.call('ZREM', base .. ':' .. status, id)
      redis.call('DEL', job_prefix .. id)
      deleted[#deleted + 1] = id
    end
  end
end
redis.call('DEL', wk)
redis.call('ZREM', index, ARGV[1])
emit_batch(base .. ':events', ARGV[2], 'deleted', deleted)
return 'deleted'
