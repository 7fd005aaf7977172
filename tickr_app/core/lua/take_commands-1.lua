-- Read and clear the commands (scale, pause) stored for one worker process, atomically, so a
-- command written between the read and the clear is never lost.
-- KEYS: worker hash
-- Returns {concurrency or false, paused or false}
local f = redis.call('HMGET', KEYS[1], 'cmd_concurrency', 'cmd_paused')
if f[1] or f[2] then
  redis.call('HDEL', KEYS[1], 'cmd_concurrency', 'cmd_paused')
end
return f
