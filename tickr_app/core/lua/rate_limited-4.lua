-- A handler raised RateLimited(retry_after): give the job back without counting the attempt, at
-- the head of its type's held jobs of its priority, and pause the type in this queue (or, with
-- whole_queue 1, the whole queue) for every process until the pause ends (a later, longer pause
-- wins; the fetch script checks it).
-- KEYS: active, events, stats, job hash
-- ARGV: id, token, retry_after_ms, events_maxlen, whole_queue (1|0)
-- Returns 'paused' or 'rejected' (lease lost)
local active, events, stats, key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, token = ARGV[1], ARGV[2]
if redis.call('HGET', key, 'lease') ~= token then return 'rejected' end
local base = limit_base(active)
local limits = base .. 'limits'
local now = now_ms()
local jtype = redis.call('HGET', key, 'type')
local ends = now + tonumber(ARGV[3])
local field = 'pause|' .. jtype
if ARGV[5] == '1' then field = 'pause' end
local current = tonumber(redis.call('HGET', limits, field))
if current and current > ends then ends = current end
redis.call('HSET', limits, field, ends)
redis.call('ZREM', active, id)
limits_release(active, {id}, {jtype})
redis.call('HINCRBY', key, 'attempts', -1)
redis.call('HDEL', key, 'lease', 'worker', 'started_at')
redis.call('HSET', key, 'status', 'ready')
redis.call('ZADD', base .. 'held:' .. jtype, held_score(base, redis.call('HGET', key, 'priority'), true), id)
redis.call('ZADD', base .. 'held', ends, jtype)
redis.call('HSETNX', limits, 'since|' .. jtype, now)
redis.call('HINCRBY', stats, 'rate_limited', 1)
redis.call('HINCRBY', stats, 'rate_limited|' .. jtype, 1)
emit(events, ARGV[4], 'rate_limited', id)
return 'paused'
