-- Remove a schedule: its definition, state and place in the due set (jobs it fired stay).
-- KEYS: schedules (set of ids), schedule_due, the schedule's hash
-- ARGV: id
-- Returns 1 if it existed, else 0
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[3])
