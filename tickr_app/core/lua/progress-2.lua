-- Record a running job's progress, only while its worker still holds the lease.
-- KEYS: job hash, events
-- ARGV: id, token, percent, message, events_maxlen
-- Returns 1 recorded, 0 lease lost
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[3], 'progress_msg', ARGV[4])
emit(KEYS[2], ARGV[5], 'progress', ARGV[1], ARGV[3])
return 1
