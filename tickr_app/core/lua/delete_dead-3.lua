-- Delete every dead job of a queue at once ("delete all dead"): the records and the index.
-- KEYS: dead, events, job-key prefix
-- ARGV: events_maxlen
-- Returns the number of jobs deleted
local dead, events, job_prefix = KEYS[1], KEYS[2], KEYS[3]
local ids = redis.call('ZRANGE', dead, 0, -1)
local deleted = {}
for _, id in ipairs(ids) do
  local key = job_prefix .. id
  -- Only records still dead go; the index entry goes either way.
  if redis.call('HGET', key, 'status') == 'dead' then
    redis.call('DEL', key)
    deleted[#deleted + 1] = id
  end
end
redis.call('DEL', dead)
emit_batch(events, ARGV[1], 'deleted', deleted)
return #deleted
