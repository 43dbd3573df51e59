-- Stores a task only if its stored revision is still the one the caller read (compare-and-set),
-- and logs its events. The rules of a task change run in Rust (coord_core::task); this function
-- only swaps, so every backend applies them the same way.
--
-- KEYS[1] the task (a hash: `revision`, `record`, and `progress`, a holder's details as the
-- client sent them), KEYS[2] the task ids by age (a sorted set), KEYS[5] and KEYS[6] the event
-- counter and stream (see common.lua; KEYS[3] and KEYS[4] are not used), KEYS[7] the waiting
-- index (claim_task.lua) and KEYS[8] the mark that it is whole, KEYS[9] the open tasks by age,
-- KEYS[10] the finished ones by when they finished and KEYS[11] the mark that those two are
-- whole (index_tasks.lua). ARGV[1] the task id, ARGV[2] the expected revision (empty: the task
-- must not exist yet), ARGV[3] the new revision, ARGV[4] when the task was added (ms), ARGV[5]
-- the record (JSON, its progress null), ARGV[6] `1` if it waits in the queue, ARGV[7] its
-- progress (JSON; empty for none), ARGV[8] when it finished (ms; empty while it is open), then
-- for each event: the session, its incarnation, the event (JSON).
--
-- Returns 1 when stored, 0 (changing nothing) when the task changed or appeared meanwhile.
local task_key, age_key, waiting_key, built_key = KEYS[1], KEYS[2], KEYS[7], KEYS[8]
local open_key, finished_key, indexed_key = KEYS[9], KEYS[10], KEYS[11]
local id, expected, revision, created, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local waits, progress, finished = ARGV[6], ARGV[7], ARGV[8]

local stored = redis.call('HGET', task_key, 'revision')
if expected == '' then
  if stored then
    return 0
  end
elseif stored ~= expected then
  return 0
end

local now = now_ms()
for i = 9, #ARGV, 3 do
  log(ARGV[i], tonumber(ARGV[i + 1]), now, ARGV[i + 2])
end
redis.call('HSET', task_key, 'revision', revision, 'record', task)
if progress == '' then
  redis.call('HDEL', task_key, 'progress')
else
  redis.call('HSET', task_key, 'progress', progress)
end
-- The first task of a namespace: its indexes are whole from the start.
if redis.call('ZCARD', age_key) == 0 then
  redis.call('SET', built_key, '1')
  redis.call('SET', indexed_key, '1')
end
redis.call('ZADD', age_key, created, id)
if waits == '1' then
  redis.call('ZADD', waiting_key, created, id)
else
  redis.call('ZREM', waiting_key, id)
end
if finished == '' then
  redis.call('ZADD', open_key, created, id)
  redis.call('ZREM', finished_key, id)
else
  redis.call('ZREM', open_key, id)
  redis.call('ZADD', finished_key, finished, id)
end
return 1
