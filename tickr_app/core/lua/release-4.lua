-- Give a leased job back without counting the attempt (graceful shutdown ran out of time, or
-- the job was leased but never started). It goes to the head of the ready list.
-- KEYS: active, ready, events, job hash
-- ARGV: id, token, events_maxlen
-- Returns 'released' or 'rejected' (lease lost)
local active, ready, events, key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, token = ARGV[1], ARGV[2]
if redis.call('HGET', key, 'lease') ~= token then return 'rejected' end
redis.call('ZREM', active, id)
limits_release(active, {id}, {redis.call('HGET', key, 'type')})
redis.call('HINCRBY', key, 'attempts', -1)
redis.call('HDEL', key, 'lease', 'worker', 'started_at')
redis.call('HSET', key, 'status', 'ready')
redis.call('RPUSH', ready, id)
emit(events, ARGV[3], 'released', id)
return 'released'
