//! The shared store: one Redis server (or cluster) that a fleet of machines writes to.
//!
//! Every change is one call of a Lua function (`*.lua` beside this file, each after `common.lua`,
//! one library: [`scripts`]) that reads the record, applies the same rule as the core's
//! [`coord_core::signal`] and writes the record, its indexes and its event, atomically and with
//! the server's clock (`TIME`), so hosts with skewed clocks agree and concurrent writers never
//! lose an update. The library is loaded when a server does not have it. Reads are plain
//! commands. Redis 7 or later (functions).
//!
//! Keys of a namespace share one hash tag, `coord:{<ns>}:`, so a Redis Cluster keeps a fleet
//! in one slot and every call's keys together:
//! - `session:<id>`: the record, a hash (layout in [`record`]);
//! - `ids`: every id, a sorted set with all scores 0, so read in id order;
//! - `last_seen`: id by last signal, a sorted set read by [`Store::quiet_since`];
//! - `hosts`: host name to the last time any session on it was heard, `since\0<host>` to
//!   since when it has been heard without a gap, `pause\0<host>` to its longest silence since,
//!   and `notice\0<host>` to what is said of it (JSON of [`coord_core::Notice`]), a hash;
//! - `seq`: the event counter; `events`: the event log, a stream trimmed to about
//!   [`Config::event_keep`] entries on every append (`MAXLEN ~`);
//! - `task:<id>`: a task, a hash of its `revision` and its `record` (JSON); `tasks`: task ids by
//!   the time they were added, a sorted set; `waiting`, `open` and `finished`: the indexes of
//!   the tasks that wait, of those not finished (both by age) and of the finished ones (by
//!   when they finished), sorted sets; `tokens`: the fencing-token counter, `tokens:fenced`: the
//!   replication id of the master it was last fenced on (see `take_token` in `common.lua`).
//!
//! No key expires: sessions leave by eviction only, so a session is never lost before the sweep
//! has judged it. Needs Redis 6.2 or later (exclusive stream ranges).
//!
//! Connections are synchronous (no async runtime on the hook path) and bounded in time by
//! [`Config::connect_timeout`]: the connection attempt, then every read and write
//! ([`connection`]).

mod batch;
mod connection;
mod keys;
mod record;
mod scripts;
mod sentinel;
mod tasks;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use ::redis::FromRedisValue;
use coord_core::{
    Beat, Event, EventKind, ExitStatus, HostHeard, Notice, Phase, Registration, Session, Source,
    Task, Timestamp,
};

use self::connection::{Con, Stage, Target, failed};
use self::keys::{Keys, host_from_fields, notice_field, pause_field, since_field};
use self::scripts::{Call, Lua, Scripts};
use crate::url::RedisUrl;
use crate::{
    ClaimOutcome, ClaimRequest, Config, Renewal, Result, Store, StoreError, TaskEvent, TaskPut,
};

/// How many stream entries [`Store::session_events`] reads per round trip.
const SCAN_BATCH: usize = 1_000;

/// What the heartbeat script answers.
#[derive(Clone, Copy)]
enum Answer {
    /// The whole record ([`Store::heartbeat`]).
    Record,
    /// The counters only ([`Store::renew`]).
    Counters,
}

/// The shared store.
pub struct RedisStore {
    target: Target,
    /// None once a connection was found unfit: the next request makes a new one.
    con: RefCell<Option<Con>>,
    keys: Keys,
    /// The server's URL with its password masked, for errors.
    url: String,
    timeout: Duration,
    scripts: Scripts,
    /// Whether the open and finished indexes are known whole (see `index_tasks.lua`).
    indexed: Cell<bool>,
}

impl RedisStore {
    /// Connects to the server `url` names (or the master its sentinels name), within
    /// [`Config::connect_timeout`].
    pub fn open(url: &RedisUrl, config: &Config) -> Result<Self> {
        let shown = url.to_string();
        let timeout = config.connect_timeout;
        let connect = failed(&shown, timeout, Stage::Connect);
        let target = Target::of(url, timeout).map_err(&connect)?;
        let con = target.connect(timeout).map_err(connect)?;
        Ok(Self {
            target,
            con: RefCell::new(Some(con)),
            keys: Keys::new(&config.namespace),
            url: shown,
            timeout,
            scripts: Scripts::new(config.host_gap, config.event_keep),
            indexed: Cell::new(false),
        })
    }

    /// A call of `script` on the session `id` with `args` after the id.
    fn session_call(&self, lua: Lua, id: &str, args: &[&str]) -> Call<'_> {
        let k = &self.keys;
        let mut call = self.scripts.call(lua);
        call.key(k.session(id))
            .key(&k.ids)
            .key(&k.last_seen)
            .key(&k.hosts)
            .key(&k.seq)
            .key(&k.events)
            .arg(id);
        for arg in args {
            call.arg(*arg);
        }
        call
    }

    /// Runs `script` on the session `id` with `args` after the id.
    fn run<T: FromRedisValue>(&self, lua: Lua, id: &str, args: &[&str]) -> Result<T> {
        let call = self.session_call(lua, id, args);
        self.with(|con| call.invoke(con))
    }

    /// A call of the heartbeat script, answering as `answer` says.
    fn heartbeat_call(&self, id: &str, beat: &Beat, answer: Answer) -> Result<Call<'_>> {
        let beat_args = record::beat_args(beat)?;
        let mut args = vec![beat.source.as_str()];
        args.extend(beat_args.iter().map(String::as_str));
        args.push(match answer {
            Answer::Record => "record",
            Answer::Counters => "counters",
        });
        Ok(self.session_call(Lua::Heartbeat, id, &args))
    }

    /// Runs a script that returns the record (or nil).
    fn run_for_session(&self, lua: Lua, id: &str, args: &[&str]) -> Result<Option<Session>> {
        let fields: Option<Vec<String>> = self.run(lua, id, args)?;
        fields.map_or(Ok(None), record::session_from_fields)
    }

    /// The records of `ids`, in that order, read in one round trip; ids evicted meanwhile are
    /// left out.
    fn load(&self, ids: &[String]) -> Result<Vec<Session>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in ids {
            pipe.cmd("HGETALL").arg(self.keys.session(id));
        }
        let hashes: Vec<Vec<String>> = self.with(|con| pipe.query(con))?;
        let mut sessions = Vec::with_capacity(hashes.len());
        for fields in hashes {
            sessions.extend(record::session_from_fields(fields)?);
        }
        Ok(sessions)
    }

    /// Stream entries as `XRANGE` / `XREVRANGE` give them.
    fn entries(&self, command: &mut ::redis::Cmd) -> Result<Vec<(String, Vec<String>)>> {
        self.with(|con| command.query(con))
    }
}

/// `n` as a `COUNT` or `LIMIT` argument.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store for RedisStore {
    fn now(&self) -> Result<Timestamp> {
        let mut call = self.scripts.call(Lua::Now);
        call.key(&self.keys.seq);
        let ms: i64 = self.with(|con| call.invoke(con))?;
        Ok(Timestamp::from_millis(ms))
    }

    fn register(&self, registration: &Registration) -> Result<Session> {
        let fresh = record::registration_args(registration)?;
        let mut args = vec![
            registration.source.as_str(),
            if registration.restart { "1" } else { "0" },
        ];
        args.extend(fresh.iter().map(String::as_str));
        self.run_for_session(Lua::Register, &registration.id, &args)?
            .ok_or_else(|| StoreError::Corrupt("the registration stored no record".to_owned()))
    }

    fn heartbeat(&self, id: &str, beat: &Beat) -> Result<Option<Session>> {
        let call = self.heartbeat_call(id, beat, Answer::Record)?;
        let fields: Option<Vec<String>> = self.with(|con| call.invoke(con))?;
        fields.map_or(Ok(None), record::session_from_fields)
    }

    fn renew(&self, id: &str, beat: &Beat) -> Result<Option<Renewal>> {
        let call = self.heartbeat_call(id, beat, Answer::Counters)?;
        let counters: Option<(u64, u64, u64)> = self.with(|con| call.invoke(con))?;
        Ok(counters.map(|c| record::renewal(id, c)))
    }

    fn unregister(&self, id: &str, source: Source) -> Result<Option<Session>> {
        let ended = serde_json::to_string(&Phase::Ended)?;
        self.run_for_session(Lua::Unregister, id, &[source.as_str(), &ended])
    }

    fn record_exit(
        &self,
        id: &str,
        incarnation: u64,
        status: ExitStatus,
        source: Source,
    ) -> Result<bool> {
        let event = serde_json::to_string(&EventKind::Exited { status })?;
        let args = [
            &incarnation.to_string(),
            source.as_str(),
            &serde_json::to_string(&status)?,
            &event,
        ];
        self.run(Lua::RecordExit, id, &args)
    }

    fn session(&self, id: &str) -> Result<Option<Session>> {
        let key = self.keys.session(id);
        let fields: Vec<String> = self.with(|con| ::redis::cmd("HGETALL").arg(&key).query(con))?;
        record::session_from_fields(fields)
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        let ids: Vec<String> = self.with(|con| {
            ::redis::cmd("ZRANGE")
                .arg(&self.keys.ids)
                .arg(0)
                .arg(-1)
                .query(con)
        })?;
        self.load(&ids)
    }

    /// Reads the `last_seen` index, then the records: a session that beat in between comes
    /// back too, newer than `before`, which the sweep's judgement and compare-and-set absorb.
    fn quiet_since(&self, before: Timestamp, limit: usize) -> Result<Vec<Session>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = self.with(|con| {
            ::redis::cmd("ZRANGE")
                .arg(&self.keys.last_seen)
                .arg("-inf")
                .arg(format!("({}", before.as_millis()))
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(0)
                .arg(count(limit))
                .query(con)
        })?;
        self.load(&ids)
    }

    fn host_gap(&self) -> Result<Duration> {
        Ok(self.scripts.host_gap)
    }

    fn host_heard(&self, host: &str) -> Result<Option<HostHeard>> {
        let (last, since, pause, notice): (Option<i64>, Option<i64>, Option<u64>, Option<String>) =
            self.with(|con| {
                ::redis::cmd("HMGET")
                    .arg(&self.keys.hosts)
                    .arg(host)
                    .arg(since_field(host))
                    .arg(pause_field(host))
                    .arg(notice_field(host))
                    .query(con)
            })?;
        last.map(|last| host_from_fields(last, since, pause, notice.as_deref()))
            .transpose()
    }

    fn hosts(&self) -> Result<BTreeMap<String, HostHeard>> {
        let fields: HashMap<String, String> =
            self.with(|con| ::redis::cmd("HGETALL").arg(&self.keys.hosts).query(con))?;
        let mut hosts = BTreeMap::new();
        for (name, last) in &fields {
            if name.contains('\0') {
                continue;
            }
            let last = last.parse().map_err(|_| {
                StoreError::Corrupt(format!("host {name}: last heard is not a number: {last}"))
            })?;
            let since = fields.get(&since_field(name)).and_then(|s| s.parse().ok());
            let pause = fields.get(&pause_field(name)).and_then(|s| s.parse().ok());
            let notice = fields.get(&notice_field(name)).map(String::as_str);
            hosts.insert(name.clone(), host_from_fields(last, since, pause, notice)?);
        }
        Ok(hosts)
    }

    fn note_host(
        &self,
        host: &str,
        expected: Option<Notice>,
        notice: Option<Notice>,
        event: &EventKind,
    ) -> Result<bool> {
        let json = |n: Option<Notice>| -> Result<String> {
            Ok(n.map(|n| serde_json::to_string(&n))
                .transpose()?
                .unwrap_or_default())
        };
        let at = match notice {
            Some(n) => n.at,
            None => self.now()?,
        };
        let args = [
            json(expected)?,
            json(notice)?,
            at.as_millis().to_string(),
            serde_json::to_string(event)?,
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stored: i64 = self.run(Lua::NoteHost, host, &args)?;
        Ok(stored == 1)
    }

    fn evict(&self, id: &str, revision: u64, reason: &str) -> Result<bool> {
        let event = serde_json::to_string(&EventKind::Evicted {
            reason: reason.to_owned(),
        })?;
        self.run(Lua::Evict, id, &[&revision.to_string(), &event])
    }

    fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let entries = self.entries(
            ::redis::cmd("XRANGE")
                .arg(&self.keys.events)
                .arg(format!("({after}-1"))
                .arg("+")
                .arg("COUNT")
                .arg(count(limit)),
        )?;
        entries
            .into_iter()
            .map(|(id, fields)| record::event_from_entry(&id, fields))
            .collect()
    }

    /// Reads the stream backwards, a batch at a time, keeping this session's events: the cost
    /// grows with the events logged since the session's `limit`-th last one, up to the whole
    /// stream ([`Config::event_keep`] entries, about) for a session with few events.
    fn session_events(&self, id: &str, limit: usize) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        let mut end = "+".to_owned();
        while events.len() < limit {
            let entries = self.entries(
                ::redis::cmd("XREVRANGE")
                    .arg(&self.keys.events)
                    .arg(&end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(count(SCAN_BATCH)),
            )?;
            let exhausted = entries.len() < SCAN_BATCH;
            for (entry, fields) in entries {
                end = format!("({entry}");
                if events.len() < limit && is_event_of(&fields, id) {
                    events.push(record::event_from_entry(&entry, fields)?);
                }
            }
            if exhausted {
                break;
            }
        }
        events.reverse();
        Ok(events)
    }

    /// Nothing to do: every append trims the event log, and sessions leave by eviction.
    fn tidy(&self) -> Result<()> {
        Ok(())
    }

    fn task(&self, id: &str) -> Result<Option<Task>> {
        self.read_task(id)
    }

    fn tasks(&self) -> Result<Vec<Task>> {
        self.read_tasks()
    }

    fn open_tasks(&self) -> Result<Vec<Task>> {
        self.open_tasks_indexed()
    }

    fn finished_tasks(&self, limit: usize) -> Result<Vec<Task>> {
        self.finished_tasks_indexed(limit)
    }

    fn retire_tasks(&self, before: Timestamp, limit: usize) -> Result<usize> {
        self.retire(before, limit)
    }

    fn put_task(&self, task: &Task, expected: Option<u64>, events: &[TaskEvent]) -> Result<bool> {
        self.swap_task(task, expected, events)
    }

    fn claim_task(&self, claim: &ClaimRequest) -> Result<ClaimOutcome> {
        self.claim(claim)
    }

    fn next_token(&self) -> Result<u64> {
        let mut call = self.scripts.call(Lua::NextToken);
        call.key(&self.keys.tokens).key(&self.keys.tokens_fenced);
        self.with(|con| call.invoke(con))
    }

    fn renewals(&self, beats: &[(&str, &Beat)]) -> Vec<Result<Option<Renewal>>> {
        self.renewals_pipelined(beats)
    }

    fn sessions_named(&self, ids: &[&str]) -> Vec<Result<Option<Session>>> {
        self.sessions_pipelined(ids)
    }

    fn tasks_named(&self, ids: &[&str]) -> Vec<Result<Option<Task>>> {
        self.tasks_pipelined(ids)
    }

    fn claim_tasks(&self, claims: &[ClaimRequest]) -> Vec<Result<ClaimOutcome>> {
        self.claims_pipelined(claims)
    }

    fn put_tasks(&self, puts: &[TaskPut]) -> Vec<Result<bool>> {
        self.puts_pipelined(puts)
    }
}

/// Whether the fields of a stream entry (name, value, …) are those of an event of `id`.
fn is_event_of(fields: &[String], id: &str) -> bool {
    fields
        .chunks_exact(2)
        .any(|pair| pair[0] == "session" && pair[1] == id)
}
