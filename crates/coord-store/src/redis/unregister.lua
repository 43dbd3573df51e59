-- Ends a session cleanly: coord_core::Session::end, run by the server.
--
-- ARGV[1] the id, ARGV[2] the source, ARGV[3] the ended phase (JSON). Returns the stored
-- record (unchanged when it had already ended), or nil when the id is unknown.
local id, source, ended_phase = ARGV[1], ARGV[2], ARGV[3]

local s = fields('host', 'phase', 'last_seen', 'incarnation', 'revision')
local host, phase, last_seen, incarnation, revision = s[1], s[2], s[3], s[4], s[5]
if not host then
  return nil
end
if ended(phase) then
  return record()
end
local now = now_ms()
last_seen = math.max(tonumber(last_seen), now)

log(id, incarnation, now, ENDED_EVENT)
set({ 'phase', ended_phase, 'phase_at', int(now), 'last_seen', int(last_seen),
  'signal:' .. source, int(now), 'revision', int(tonumber(revision) + 1) })
heard(id, host, last_seen)
return record()
