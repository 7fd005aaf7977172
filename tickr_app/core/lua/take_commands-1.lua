-- Read and clear the commands (scale, pause, queue weights) stored for one worker process,
-- atomically, so a command written between the read and the clear is never lost.
-- KEYS: worker hash
-- Returns {concurrency or false, paused or false, weights or false, strict or false}
local f = redis.call('HMGET', KEYS[1], 'cmd_concurrency', 'cmd_paused', 'cmd_weights', 'cmd_strict')
if f[1] or f[2] or f[3] or f[4] then
  redis.call('HDEL', KEYS[1], 'cmd_concurrency', 'cmd_paused', 'cmd_weights', 'cmd_strict')
end
return f
