-- Applies a heartbeat: coord_core::Beat::apply, run by the server.
--
-- ARGV[1] the id, ARGV[2] the source, ARGV[3] `activity`, `alive` or `signal`, ARGV[4] when the
-- source observed it (ms), ARGV[5] the reported phase (JSON, empty for none), ARGV[6] progress
-- details (JSON, empty for none), ARGV[7] the log's modification time (ms, empty for none),
-- ARGV[8] what to answer: `record` (the stored record) or `counters` (the incarnation, the
-- revision and the beats: a renewal's answer, which costs the server no copy of the record).
--
-- Returns that, or nil (changing nothing) when the id is unknown, has ended or its
-- process is known to have exited. An activity counts as a beat and as progress; a proof of
-- life marks the process alive; a bare signal renews the session only. A phase observed before
-- the stored one's time is ignored.
local id, source, kind, observed_at = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local new_phase, progress, log_mtime, answer = ARGV[5], ARGV[6], ARGV[7], ARGV[8]

-- A renewal does the least it needs: one read of the fields it looks at (the phase's time and
-- the log's only when it brings them), one write of the fields it changes, the indexes; an
-- event only for a new phase.
local s
if new_phase == '' and log_mtime == '' then
  s = fields('host', 'phase', 'process', 'last_seen', 'incarnation', 'revision', 'beats')
else
  s = fields('host', 'phase', 'process', 'last_seen', 'incarnation', 'revision', 'beats',
    'phase_at', 'log_mtime')
end
local host, phase, process = s[1], s[2], s[3]
if not host or ended(phase) or exited(process) then
  return nil
end
local now = now_ms()
local at = int(now)
local last_seen = math.max(tonumber(s[4]), now)
local incarnation, revision, beats = s[5], tonumber(s[6]) + 1, tonumber(s[7])
local list = { 'last_seen', last_seen == now and at or int(last_seen), 'signal:' .. source, at,
  'revision', int(revision) }
local n = 6
local function put(name, value)
  list[n + 1] = name
  list[n + 2] = value
  n = n + 2
end
if kind == 'activity' then
  beats = beats + 1
  put('last_activity', at)
  put('beats', int(beats))
  put('last_progress', at)
elseif kind == 'alive' then
  put('process', '{"process":"alive","checked_at":' .. at .. '}')
end
if progress ~= '' then
  put('progress', progress)
  if kind ~= 'activity' then
    put('last_progress', at)
  end
end
if log_mtime ~= '' then
  local mtime, stored_mtime = tonumber(log_mtime), s[9]
  if stored_mtime ~= 'null' then
    mtime = math.max(mtime, tonumber(stored_mtime))
  end
  put('log_mtime', int(mtime))
end
if new_phase ~= '' and observed_at >= tonumber(s[8]) and new_phase ~= phase then
  local to = phase_name(new_phase)
  if to == 'ended' then
    log(id, incarnation, now, ENDED_EVENT)
  else
    log(id, incarnation, now, cjson.encode({ kind = 'phase', from = phase_name(phase), to = to }))
  end
  put('phase', new_phase)
  put('phase_at', int(observed_at))
end
set(list)
heard(id, host, last_seen)
if answer == 'counters' then
  return { tonumber(incarnation), revision, beats }
end
return record()
