-- Set or remove a queue's or a job type's rate and concurrency limits (live, or the defaults a
-- job type declares on @job, which apply while no live value is set), and let every process's
-- fetcher look at held jobs again under the new limits at once. Removing both live limits of a
-- type also lifts a pause a handler asked for (RateLimited).
-- KEYS: active, limits, job-key prefix
-- ARGV: job type ('' for the queue), declared ('1' or '0'), rate, per_ms, concurrency;
--       each of rate and concurrency is '' (unchanged), '-' (removed) or a positive integer
-- Returns 1 when something changed, else 0
local active, limits, job_prefix = KEYS[1], KEYS[2], KEYS[3]
local jtype, rate, per, conc = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local base = limit_base(active)
local scope, pre = '', ''
if jtype ~= '' then scope = '|' .. jtype end
if ARGV[2] == '1' then pre = 'd' end
local changed = false
local function put(field, value)
  local old = redis.call('HGET', limits, field)
  if value == '-' then
    if old then
      redis.call('HDEL', limits, field)
      changed = true
    end
  elseif value ~= '' and old ~= value then
    redis.call('HSET', limits, field, value)
    changed = true
  end
end
if rate == '-' then
  put(pre .. 'rate' .. scope, '-')
  put(pre .. 'per' .. scope, '-')
elseif rate ~= '' then
  put(pre .. 'rate' .. scope, rate)
  put(pre .. 'per' .. scope, per)
end
put(pre .. 'conc' .. scope, conc)
if pre == '' and rate == '-' and conc == '-' then
  -- clearing a scope's limits also lifts a RateLimited pause of that type or queue
  if jtype ~= '' then put('pause|' .. jtype, '-') else put('pause', '-') end
end
if not changed then return 0 end
if jtype ~= '' then
  -- Count the type's running jobs from the leases in force, so a new limit holds at once.
  local run = base .. 'run:' .. jtype
  redis.call('DEL', run)
  if limit_conc(limits_config(base), scope) then
    local live = redis.call('ZRANGEBYSCORE', active, '(' .. now_ms(), '+inf', 'WITHSCORES')
    for i = 1, #live, 2 do
      if redis.call('HGET', job_prefix .. live[i], 'type') == jtype then
        redis.call('ZADD', run, live[i + 1], live[i])
      end
    end
  end
end
local held = base .. 'held'
for _, t in ipairs(redis.call('ZRANGE', held, 0, -1)) do
  if jtype == '' or t == jtype then redis.call('ZADD', held, 0, t) end
end
redis.call('PUBLISH', base .. 'limits_wake', 'limits')
return 1
