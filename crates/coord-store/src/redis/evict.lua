-- Removes a session only if its revision is still the one the sweep judged (compare-and-set),
-- and logs why.
--
-- ARGV[1] the id, ARGV[2] the judged revision, ARGV[3] the `evicted` event (JSON). Returns 1
-- when removed, 0 when the session is gone or changed since. The host's last heard time stays:
-- it says when the host was heard, not which sessions it has now.
local id, revision, event = ARGV[1], ARGV[2], ARGV[3]

local s = fields('revision', 'incarnation')
local stored, incarnation = s[1], s[2]
if not stored or tonumber(stored) ~= tonumber(revision) then
  return 0
end

log(id, incarnation, now_ms(), event)
redis.call('DEL', session_key)
redis.call('ZREM', ids_key, id)
redis.call('ZREM', seen_key, id)
return 1
