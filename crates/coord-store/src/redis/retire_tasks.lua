-- Removes tasks finished before a time, the oldest first, with their history: coord's task
-- retention, run by the sweep. KEYS as put_task.lua's (KEYS[2] every task by age, KEYS[7] the
-- waiting index, KEYS[9] the open tasks, KEYS[10] the finished ones by when they finished).
-- ARGV[1] what every task key starts with, ARGV[2] the time (ms): tasks finished before it go,
-- ARGV[3] the most to remove.
--
-- A task goes only if its record says it is done or failed: nothing open is ever removed,
-- whatever the index holds. Returns how many went.
local age_key, waiting_key, open_key, finished_key = KEYS[2], KEYS[7], KEYS[9], KEYS[10]
local task_prefix, before, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local removed = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', finished_key, '-inf', '(' .. int(before),
    'LIMIT', 0, limit)) do
  local key = task_prefix .. id
  local record = redis.call('HGET', key, 'record')
  local state = record and cjson.decode(record).state
  if state == 'done' or state == 'failed' or not record then
    if record then
      redis.call('DEL', key)
      removed = removed + 1
    end
    redis.call('ZREM', age_key, id)
    redis.call('ZREM', waiting_key, id)
    redis.call('ZREM', open_key, id)
  end
  redis.call('ZREM', finished_key, id)
end
return removed
