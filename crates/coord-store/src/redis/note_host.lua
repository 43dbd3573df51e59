-- Replaces what is said of a host, only if it is still what the caller read (compare-and-set),
-- and logs why. KEYS[1] is not used: the host's fields live in the hosts hash.
--
-- ARGV[1] the host, ARGV[2] the notice expected (JSON, '' for none), ARGV[3] the new notice
-- ('' to clear it), ARGV[4] its time (ms), ARGV[5] the event (JSON). Returns 1 when replaced,
-- 0 when the notice changed since. A host never heard is recorded as heard at that time.
local host, expected, notice, at, event = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local field = NOTICE_PREFIX .. host
if (redis.call('HGET', hosts_key, field) or '') ~= expected then
  return 0
end
if notice == '' then
  redis.call('HDEL', hosts_key, field)
else
  redis.call('HSET', hosts_key, field, notice)
end
if not redis.call('HGET', hosts_key, host) then
  redis.call('HSET', hosts_key, host, at, SINCE_PREFIX .. host, at)
end
log(host, 0, now_ms(), event)
return 1
