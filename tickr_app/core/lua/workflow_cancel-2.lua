-- Cancel a running workflow (see wf_stop in _workflow.lua).
-- KEYS: workflow hash, job-key prefix
-- ARGV: events_maxlen
-- Returns 'stopped', 'missing', or the status of a workflow that already ended
local wk = KEYS[1]
local status = redis.call('HGET', wk, 'status')
if not status then return 'missing' end
if status ~= 'running' then return status end
wf_stop(wf_base(KEYS[2], ':job:'), wk, 'cancelled', now_ms(), ARGV[1])
return 'stopped'
