-- Resume a failed or cancelled workflow, or retry the dead nodes of a running one: dead and
-- cancelled nodes start afresh, held nodes start, skipped nodes run once their dependencies do.
-- KEYS: workflow hash, job-key prefix
-- ARGV: events_maxlen
-- Returns the number of nodes started (0: nothing to retry), or 'missing'
local wk = KEYS[1]
local status = redis.call('HGET', wk, 'status')
if not status then return 'missing' end
if status == 'succeeded' then return 0 end
return wf_resume(wf_base(KEYS[2], ':job:'), wk, now_ms(), ARGV[1], true)
