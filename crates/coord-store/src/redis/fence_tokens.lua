-- Fences a namespace's token counter on a master it has not seen: run before the first token
-- a connection through the sentinels takes (see sentinel.rs).
--
-- KEYS[1] the token counter, KEYS[2] the replication id of the master it was last fenced on.
-- ARGV[1] this master's replication id, ARGV[2] the gap.
--
-- A replica promoted by a failover may lack the last tokens the old master handed out: the
-- first time a master is seen (its replication id is not the one recorded), the counter jumps
-- by the gap, past any token that can have been lost, so that none is handed out twice.
-- Returns the counter.
local tokens_key, fenced_key = KEYS[1], KEYS[2]
local replid, gap = ARGV[1], tonumber(ARGV[2])
if redis.call('GET', fenced_key) ~= replid then
  redis.call('INCRBY', tokens_key, gap)
  redis.call('SET', fenced_key, replid)
end
return tonumber(redis.call('GET', tokens_key) or 0)
