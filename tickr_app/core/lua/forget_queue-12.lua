-- Forget a queue that holds no jobs (jobs held back by a limit count as ready), no schedules and
-- no workflow records: drop its finished records, counters, events, pause flag and limits. (The
-- caller removes the name from the global queue set, which is outside this hash tag.) A schedule
-- keeps it: it would go on firing into a forgotten queue; so does a workflow record: its node
-- jobs live in this queue, and a retry would bring it back (delete the workflow first). Expired
-- workflows' index entries go here.
-- KEYS: ready, waiting, active, dead, succeeded, cancelled, events, stats, paused, job-key prefix,
--       schedules, workflow index
-- ARGV: (none)
-- Returns {0, ready, waiting, active, dead, schedules, workflows} when something remains
-- (nothing changed but the pruned index), else {1}
local ready, waiting, active, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local job_prefix = KEYS[10]
local counts = {
  redis.call('LLEN', ready) + limits_held_jobs(active), redis.call('ZCARD', waiting), redis.call('ZCARD', active),
  redis.call('ZCARD', dead), redis.call('SCARD', KEYS[11]), wf_prune_index(KEYS[12], wf_base(job_prefix, ':job:'), 0)
}
if counts[1] + counts[2] + counts[3] + counts[4] + counts[5] + counts[6] > 0 then
  return {0, counts[1], counts[2], counts[3], counts[4], counts[5], counts[6]}
end
for _, finished in ipairs({KEYS[5], KEYS[6]}) do
  for _, id in ipairs(redis.call('ZRANGE', finished, 0, -1)) do
    redis.call('DEL', job_prefix .. id)
  end
end
redis.call('DEL', KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[12])
limits_forget(active)
return {1}
