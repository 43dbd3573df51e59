-- Builds the index of the open tasks (by age) and of the finished ones (by when they finished)
-- from every task, once, for a namespace written before they existed; put_task.lua keeps them
-- from then on. KEYS as put_task.lua's (KEYS[2] every task by age, KEYS[9] and KEYS[10] the
-- two indexes, KEYS[11] the mark that they are whole). ARGV[1] what every task key starts with.
--
-- The record is decoded only to read its state and times. Returns 1 when it built them.
local age_key, open_key, finished_key, indexed_key = KEYS[2], KEYS[9], KEYS[10], KEYS[11]
local task_prefix = ARGV[1]

if redis.call('EXISTS', indexed_key) == 1 then
  return 0
end
for _, id in ipairs(redis.call('ZRANGE', age_key, 0, -1)) do
  local record = redis.call('HGET', task_prefix .. id, 'record')
  if record then
    local t = cjson.decode(record)
    if t.state == 'done' or t.state == 'failed' then
      redis.call('ZADD', finished_key, t.updated_at, id)
    else
      redis.call('ZADD', open_key, t.created_at, id)
    end
  end
end
redis.call('SET', indexed_key, '1')
return 1
