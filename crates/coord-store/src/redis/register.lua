-- Registers (or re-registers) a session: coord_core::Registration::apply, run by the server.
--
-- ARGV[1] the id, ARGV[2] the source, ARGV[3] '1' when a restart is asked for, ARGV[4] the
-- `registered` event (JSON, empty for none), then (name, JSON) pairs: the fields of the record
-- the core builds for a new incarnation, without those set here (incarnation, revision,
-- registered_at, last_seen, phase_at, signals).
--
-- The same process (host and pid) registering again while it has not ended or exited continues
-- its incarnation: the fields below are refreshed and nothing is logged. Anything else starts a
-- new incarnation, numbered after the previous one. Returns the stored record.
local id, source, restart, registered = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]
local fresh = {}
for i = 5, #ARGV, 2 do
  fresh[ARGV[i]] = ARGV[i + 1]
end
local now = now_ms()

-- What a registration of the same incarnation replaces, and what it replaces only when it
-- knows a value.
local REPLACED = { 'runtime', 'task', 'labels', 'policy' }
local KEPT_UNLESS_NULL = { 'pid_start', 'boot_id', 'cwd', 'log_path' }

local prev = fields('host', 'pid', 'phase', 'process', 'incarnation', 'revision', 'last_seen')
local host, pid, phase, process, incarnation, revision, last_seen =
  prev[1], prev[2], prev[3], prev[4], prev[5], prev[6], prev[7]

if host and not restart and host == fresh.host and pid == fresh.pid
  and not ended(phase) and not exited(process) then
  last_seen = math.max(tonumber(last_seen), now)
  local list = { 'last_seen', int(last_seen), 'signal:' .. source, int(now),
    'revision', int(tonumber(revision) + 1) }
  for _, name in ipairs(REPLACED) do
    table.insert(list, name)
    table.insert(list, fresh[name])
  end
  for _, name in ipairs(KEPT_UNLESS_NULL) do
    if fresh[name] ~= 'null' then
      table.insert(list, name)
      table.insert(list, fresh[name])
    end
  end
  set(list)
  index(id, host, last_seen)
  return record()
end

local next_incarnation, next_revision = 1, 1
if host then
  next_incarnation = tonumber(incarnation) + 1
  next_revision = tonumber(revision) + 1
end
if registered ~= '' then
  log(id, next_incarnation, now, registered)
end
redis.call('DEL', session_key)
local list = { 'incarnation', int(next_incarnation), 'revision', int(next_revision),
  'registered_at', int(now), 'last_seen', int(now), 'phase_at', int(now),
  'signal:' .. source, int(now) }
for name, value in pairs(fresh) do
  table.insert(list, name)
  table.insert(list, value)
end
set(list)
index(id, fresh.host, now)
return record()
