-- Hands out a fencing token of the namespace (see take_token in common.lua).
--
-- KEYS[1] the token counter, KEYS[2] the replication id of the master it was last fenced on.
return take_token(KEYS[1], KEYS[2])
