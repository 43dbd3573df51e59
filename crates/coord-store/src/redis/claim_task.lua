-- Claims a task in one step: coord_core::Task::claim, run by the server. The task named, or
-- the oldest in the waiting index (a sorted set by age of the tasks that wait:
-- coord_core::Task::waits) that is claimable now and whose labels the session carries; its
-- fencing token from the namespace's counter; the claim written and its event logged. A task
-- that cannot be claimed takes no token.
--
-- KEYS[1] the task named (any key when none is), KEYS[5] and KEYS[6] the event counter and
-- stream (see common.lua), KEYS[7] the waiting index, KEYS[8] the token counter, KEYS[9] the
-- mark that the waiting index was built, KEYS[10] the master the counter was fenced on.
-- ARGV[1] the session, ARGV[2] its incarnation, ARGV[3] its labels (JSON), ARGV[4] the task
-- named (empty: the next one), ARGV[5] the lease (ms), ARGV[6] what every task key starts
-- with, ARGV[7] the leader task's id, ARGV[8] how many history entries a task keeps, ARGV[9]
-- the ids of every task (a sorted set, to build the index once).
--
-- The record is decoded and encoded again: it holds no number past 14 digits (times in ms,
-- counters) and no client JSON (a holder's progress is a field of its own).
--
-- Returns {'claimed', record, progress or false}, {'missing'}, {'refused'} or {'nothing'}.
local waiting_key, tokens_key, built_key = KEYS[7], KEYS[8], KEYS[9]
local session, incarnation, labels = ARGV[1], tonumber(ARGV[2]), cjson.decode(ARGV[3])
local named, lease, task_prefix = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local leader, history_len, all_key = ARGV[7], tonumber(ARGV[8]), ARGV[9]
local now = now_ms()

local function load(id)
  local record = redis.call('HGET', task_prefix .. id, 'record')
  if not record then
    return nil
  end
  return cjson.decode(record)
end

-- coord_core::Task::claimable_now
local function claimable(t)
  return t.state == 'pending' and (t.not_before == cjson.null or t.not_before <= now)
end

-- coord_core::Task::fits
local function fits(t)
  for k, v in pairs(t.labels) do
    if labels[k] ~= v then
      return false
    end
  end
  return true
end

-- The index, built once from every task for a namespace written before it existed.
if redis.call('EXISTS', built_key) == 0 then
  for _, id in ipairs(redis.call('ZRANGE', all_key, 0, -1)) do
    local t = load(id)
    if t and t.state == 'pending' and id ~= leader then
      redis.call('ZADD', waiting_key, t.created_at, id)
    end
  end
  redis.call('SET', built_key, '1')
end

local t
if named ~= '' then
  t = load(named)
  if not t then
    return { 'missing' }
  end
  if not claimable(t) then
    return { 'refused' }
  end
else
  local from = 0
  while not t do
    local ids = redis.call('ZRANGE', waiting_key, from, from + 99)
    if #ids == 0 then
      return { 'nothing' }
    end
    for _, id in ipairs(ids) do
      local candidate = load(id)
      if candidate and claimable(candidate) and fits(candidate) then
        t = candidate
        break
      end
    end
    from = from + 100
  end
end

local token = take_token(tokens_key, KEYS[10])
t.state = 'claimed'
t.session = session
t.token = token
t.lease_until = now + lease
t.not_before = cjson.null
t.updated_at = math.max(t.updated_at, now)
t.revision = t.revision + 1
table.insert(t.history, { at = now, what = 'claimed by ' .. session .. ' (token ' .. int(token) .. ')' })
if #t.history > history_len then
  table.remove(t.history, 2)
end

local record = cjson.encode(t)
local key = task_prefix .. t.id
redis.call('HSET', key, 'revision', int(t.revision), 'record', record)
redis.call('ZREM', waiting_key, t.id)
local event
if t.id == leader then
  event = '{"kind":"leader","term":' .. int(token) .. '}'
else
  event = cjson.encode({ kind = 'claimed', task = t.id, token = token })
end
log(session, incarnation, now, event)
return { 'claimed', record, redis.call('HGET', key, 'progress') }
