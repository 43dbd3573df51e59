-- What every coord function shares, run once when the server loads the library: the keys each
-- call is given, the server's clock, and the writes every change shares (the event log and the
-- indexes).
--
-- A session is a hash: one field per field of coord_core::Session, holding the JSON text serde
-- gives that field, except `signals`, kept as one `signal:<source>` field per source (its time
-- in milliseconds) so that a signal is one HSET. The functions copy the JSON texts the Rust side
-- sends and write integers; they never re-encode a record with cjson, which would round
-- integers past 14 digits and turn an empty array into an object. Numbers are written with
-- int() for the same reason.
--
-- Every function is given the same keys, all under the namespace's hash tag:
-- KEYS[1] the session, KEYS[2] the ids (a sorted set, all scores 0: ordered by id),
-- KEYS[3] last_seen per id (a sorted set), KEYS[4] host -> last heard, SINCE_PREFIX .. host
-- -> since when heard without a silence longer than HOST_GAP_MS and PAUSE_PREFIX .. host -> its
-- longest silence since (a hash; the constants are set by the Rust side in front of this file),
-- KEYS[5] the event counter, KEYS[6] the event stream.
local session_key, ids_key, seen_key, hosts_key, seq_key, events_key

-- Gives the functions below the keys of the call: every function calls it first. The server runs
-- one call at a time, so the keys of one never meet another's.
local function bind(keys)
  session_key, ids_key, seen_key, hosts_key, seq_key, events_key =
    keys[1], keys[2], keys[3], keys[4], keys[5], keys[6]
end


-- The kind of event a clean end logs (coord_core::EventKind::Ended).
local ENDED_EVENT = '{"kind":"ended"}'

-- An integer as decimal text (Lua numbers are doubles: tostring writes 1e+15 past 14 digits).
local function int(n)
  return string.format('%d', n)
end

-- The server's clock in milliseconds: every host's signal is timed by one clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The next fencing token from the counter at tokens_key. Redis replicates asynchronously, so a
-- replica promoted by a failover may lack the last tokens the old master handed out, and a
-- counter that went back would hand one out twice. A promotion gives the server a new
-- replication id: on a master whose id is not the one recorded at fenced_key, the counter
-- first moves to TOKEN_GAP past the greater of itself and the clock's milliseconds times
-- TOKENS_PER_MS. The gap passes what one failover can lose; the clock passes the tokens of a
-- master that was promoted and lost before its own move reached a replica (which the gap
-- alone would start again from). Checked in the function, on the master that hands the token
-- out, so no connection has to know that a failover happened.
local function take_token(tokens_key, fenced_key)
  local replid = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')
  if not replid then
    error('INFO replication gives no master_replid')
  end
  if redis.call('GET', fenced_key) ~= replid then
    local counter = tonumber(redis.call('GET', tokens_key) or '0')
    redis.call('SET', tokens_key, int(math.max(counter, now_ms() * TOKENS_PER_MS) + TOKEN_GAP))
    redis.call('SET', fenced_key, replid)
  end
  return redis.call('INCR', tokens_key)
end

-- The given fields of the session, false where one is missing.
local function fields(...)
  return redis.call('HMGET', session_key, ...)
end

-- The name of a phase from its JSON (`working`, `in-tool`, `waiting`, `ended`).
local function phase_name(json)
  return cjson.decode(json).phase
end

-- Whether a process fact (JSON) says the process exited. serde writes an enum's tag first, so
-- the text tells without decoding it.
local function exited(json)
  return string.find(json, '{"process":"exited"', 1, true) == 1
end

-- Whether a phase (JSON) is the end, told the same way.
local function ended(json)
  return json == '{"phase":"ended"}'
end

-- Appends one event to the namespace's log. Its number comes from the namespace's counter and
-- its stream entry id is `<number>-1`, so a reader resumes with an exclusive range.
local function log(id, incarnation, at, kind)
  local seq = redis.call('INCR', seq_key)
  redis.call('XADD', events_key, 'MAXLEN', '~', EVENT_KEEP, int(seq) .. '-1',
    'session', id, 'incarnation', int(incarnation), 'at', int(at), 'kind', kind)
end

-- The name a host's JSON text holds: the text between its quotes unless it escapes anything.
local function host_name(host)
  if string.find(host, '\\', 1, true) then
    return cjson.decode(host)
  end
  return string.sub(host, 2, -2)
end

-- Records the session, already indexed by id, as last seen at `last_seen` on `host` (the JSON
-- text of the host name). A host heard again after a silence longer than HOST_GAP_MS is heard
-- without a gap from now; a shorter silence is its longest pause since then if none was
-- longer.
local function heard(id, host, last_seen)
  redis.call('ZADD', seen_key, int(last_seen), id)
  local name = host_name(host)
  local pause_field = PAUSE_PREFIX .. name
  local stored = redis.call('HMGET', hosts_key, name, pause_field)
  local heard = tonumber(stored[1])
  if not heard or last_seen - heard > HOST_GAP_MS then
    redis.call('HSET', hosts_key, name, int(last_seen), SINCE_PREFIX .. name, int(last_seen),
      pause_field, 0)
  elseif last_seen > heard then
    local silence = last_seen - heard
    if silence > (tonumber(stored[2]) or 0) then
      redis.call('HSET', hosts_key, name, int(last_seen), pause_field, int(silence))
    else
      redis.call('HSET', hosts_key, name, int(last_seen))
    end
  end
end

-- Indexes the session by id too: `heard` for a session that may be new.
local function index(id, host, last_seen)
  redis.call('ZADD', ids_key, 0, id)
  heard(id, host, last_seen)
end

-- Sets fields of the session from a list of name, value, name, value...
local function set(list)
  redis.call('HSET', session_key, unpack(list))
end

-- The stored record, as HGETALL gives it.
local function record()
  return redis.call('HGETALL', session_key)
end

