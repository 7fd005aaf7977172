-- Forget a queue that holds no jobs and no schedules: drop its finished records, counters,
-- events and pause flag. (The caller removes the name from the global queue set, which is
-- outside this hash tag.) A schedule keeps it: it would go on firing into a forgotten queue.
-- KEYS: ready, waiting, active, dead, succeeded, cancelled, events, stats, paused, job-key prefix,
--       schedules
-- ARGV: (none)
-- Returns {0, ready, waiting, active, dead, schedules} when something remains (nothing changed),
-- else {1}
local ready, waiting, active, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local counts = {
  redis.call('LLEN', ready) + redis.call('ZCARD', prio_key(ready)), redis.call('ZCARD', waiting), redis.call('ZCARD', active), redis.call('ZCARD', dead),
  redis.call('SCARD', KEYS[11])
}
if counts[1] + counts[2] + counts[3] + counts[4] + counts[5] > 0 then
  return {0, counts[1], counts[2], counts[3], counts[4], counts[5]}
end
local job_prefix = KEYS[10]
for _, finished in ipairs({KEYS[5], KEYS[6]}) do
  for _, id in ipairs(redis.call('ZRANGE', finished, 0, -1)) do
    redis.call('DEL', job_prefix .. id)
  end
end
redis.call('DEL', KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], ready .. ':seq')
return {1}
