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

-- A renewal does the least it needs: one read of the fields it looks at, one write of the
-- fields it changes (the beat count among them), the indexes; an event only for a new phase.
local s = fields('host', 'phase', 'phase_at', 'process', 'last_seen', 'log_mtime',
  'incarnation', 'revision', 'beats')
local host, phase, phase_at, process, last_seen, stored_mtime, incarnation, revision, beats =
  s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]
if not host or ended(phase) or exited(process) then
  return nil
end
local now = now_ms()

last_seen = math.max(tonumber(last_seen), now)
revision = tonumber(revision) + 1
beats = tonumber(beats)
local list = { 'last_seen', int(last_seen), 'signal:' .. source, int(now),
  'revision', int(revision) }
local function put(name, value)
  table.insert(list, name)
  table.insert(list, value)
end
if kind == 'activity' then
  put('last_activity', int(now))
  beats = beats + 1
  put('beats', int(beats))
elseif kind == 'alive' then
  put('process', '{"process":"alive","checked_at":' .. int(now) .. '}')
end
if progress ~= '' then
  put('progress', progress)
end
if kind == 'activity' or progress ~= '' then
  put('last_progress', int(now))
end
if log_mtime ~= '' then
  local mtime = tonumber(log_mtime)
  if stored_mtime ~= 'null' then
    mtime = math.max(mtime, tonumber(stored_mtime))
  end
  put('log_mtime', int(mtime))
end
local event
if new_phase ~= '' and observed_at >= tonumber(phase_at) and new_phase ~= phase then
  local to = phase_name(new_phase)
  if to == 'ended' then
    event = ENDED_EVENT
  else
    event = cjson.encode({ kind = 'phase', from = phase_name(phase), to = to })
  end
  put('phase', new_phase)
  put('phase_at', int(observed_at))
end

if event then
  log(id, incarnation, now, event)
end
set(list)
heard(id, host, last_seen)
if answer == 'counters' then
  return { tonumber(incarnation), revision, beats }
end
return record()
