-- Extend the leases a worker still holds; report which it lost and which were asked to cancel.
-- KEYS: active, then one job hash per job
-- ARGV: lease_ms, then per job: id, token
-- Returns per job: 0 lease lost, 1 extended, 2 extended and cancel requested
local active = KEYS[1]
local now = now_ms()
local deadline = now + tonumber(ARGV[1])
local out = {}
local limited = limits_on(active)
for i = 2, #KEYS do
  local a = 2 + (i - 2) * 2
  local id, token = ARGV[a], ARGV[a + 1]
  if redis.call('HGET', KEYS[i], 'lease') == token then
    redis.call('ZADD', active, 'XX', deadline, id)
    if limited then limits_extend(active, KEYS[i], id, deadline) end
    if redis.call('HGET', KEYS[i], 'cancel_requested') == '1' then
      out[#out + 1] = 2
    else
      out[#out + 1] = 1
    end
  else
    out[#out + 1] = 0
  end
end
return out
