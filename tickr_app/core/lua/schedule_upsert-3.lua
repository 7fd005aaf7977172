-- Create or update one schedule atomically (upsert by id: never a second copy).
-- KEYS: schedules (set of ids), schedule_due (zset id -> next due ms), the schedule's hash
-- ARGV: id, digest, timing signature, first slot ms (used only when the timing is new or
--       changed; -1 = none), paused ('1', '0', or '' = keep; new schedules start unpaused),
--       wake channel, then field/value pairs of the definition
-- Returns {1 created | 2 updated | 0 unchanged, next due ms, revision}
local ids, due, key = KEYS[1], KEYS[2], KEYS[3]
local id, digest, timing, first, paused, wake = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now = now_ms()
local old = redis.call('HMGET', key, 'digest', 'timing', 'paused', 'next', 'rev')
local exists = old[1] ~= false
if exists and old[1] == digest and (paused == '' or paused == old[3]) then
  return {0, tonumber(old[4]), tonumber(old[5])}
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', key, 'digest', digest, 'updated_at', now, unpack(fields))
if not exists then
  redis.call('HSET', key, 'created_at', now, 'rev', 1, 'fired', 0, 'skipped', 0)
  if paused == '' then paused = '0' end
else
  redis.call('HINCRBY', key, 'rev', 1)
end
if not exists or old[2] ~= timing then
  -- A new or changed timing starts from its first slot after now; otherwise the schedule
  -- keeps its place, so an upsert at every process start neither skips nor repeats a slot.
  redis.call('HSET', key, 'timing', timing, 'next', first)
end
if paused ~= '' then redis.call('HSET', key, 'paused', paused) end
redis.call('SADD', ids, id)
local f = redis.call('HMGET', key, 'next', 'paused', 'rev')
local nxt = tonumber(f[1])
if f[2] == '1' or nxt < 0 then
  redis.call('ZREM', due, id)
else
  redis.call('ZADD', due, nxt, id)
  local head = redis.call('ZRANGE', due, 0, 0)
  if head[1] == id then redis.call('PUBLISH', wake, nxt) end
end
local result = 2
if not exists then result = 1 end
return {result, nxt, tonumber(f[3])}
