-- Records that a session's process ended: coord_core::Session::exited, run by the server.
--
-- ARGV[1] the id, ARGV[2] the incarnation the exit belongs to, ARGV[3] the source, ARGV[4] the
-- exit status (JSON), ARGV[5] the `exited` event (JSON). Returns 1 when recorded, 0 when the
-- session is gone, is another incarnation now, or an exit was already recorded.
local id, incarnation, source, status, event = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local s = fields('incarnation', 'process', 'revision')
local stored, process, revision = s[1], s[2], s[3]
if not stored or tonumber(stored) ~= tonumber(incarnation) or exited(process) then
  return 0
end
local now = now_ms()

log(id, stored, now, event)
set({ 'process', '{"process":"exited","status":' .. status .. ',"at":' .. int(now) .. '}',
  'signal:' .. source, int(now), 'revision', int(tonumber(revision) + 1) })
return 1
