-- Mark a batch of leased jobs succeeded. A job whose lease token no longer matches (its lease
-- expired and was recovered) is rejected, so a late ack is never applied twice.
-- KEYS: active, succeeded, events, stats, then one job hash per job
-- ARGV: retention_ms, events_maxlen, n, then per job: id, token, result_json, type
-- Returns per job: 1 applied, 0 rejected
local active, succeeded, events, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local retention, maxlen, n = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local out = {}
local done = {}
local done_types = {}
local zargs = {}
local by_type = {}
for i = 0, n - 1 do
  local a = 4 + i * 4
  local id, token, jtype = ARGV[a], ARGV[a + 1], ARGV[a + 3]
  local key = KEYS[5 + i]
  if redis.call('HGET', key, 'lease') == token then
    redis.call('HSET', key, 'status', 'succeeded', 'finished_at', now, 'result', ARGV[a + 2], 'progress', 100)
    redis.call('HDEL', key, 'lease')
    redis.call('PEXPIRE', key, retention)
    wf_on_success(active, key, id, ARGV[a + 2], now, maxlen)
    done[#done + 1] = id
    done_types[#done_types + 1] = jtype
    zargs[#zargs + 1] = now
    zargs[#zargs + 1] = id
    by_type[jtype] = (by_type[jtype] or 0) + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if #done > 0 then
  redis.call('ZREM', active, unpack(done))
  limits_release(active, done, done_types)
  redis.call('ZADD', succeeded, unpack(zargs))
  redis.call('HINCRBY', stats, 'succeeded', #done)
  redis.call('HINCRBY', stats, 'processed', #done)
  count_by_type(stats, 'succeeded', by_type)
  emit_batch(events, maxlen, 'succeeded', done)
end
return out
