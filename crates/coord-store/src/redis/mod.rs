//! The shared store: one Redis server (or cluster) that a fleet of machines writes to.
//!
//! Every change is one Lua script (`*.lua` beside this file, each after `common.lua`) that reads
//! the record, applies the same rule as the core's [`coord_core::signal`] and writes the record,
//! its indexes and its event, atomically and with the server's clock (`TIME`), so hosts with
//! skewed clocks agree and concurrent writers never lose an update. Scripts run by SHA
//! (`EVALSHA`); the `redis` crate loads one again when the server answers `NOSCRIPT` (after a
//! restart or a `SCRIPT FLUSH`). Reads are plain commands.
//!
//! Keys of a namespace share one hash tag, `coord:{<ns>}:`, so a Redis Cluster keeps a fleet
//! in one slot and every script's keys together:
//! - `session:<id>`: the record, a hash (layout in [`record`]);
//! - `ids`: every id, a sorted set with all scores 0, so read in id order;
//! - `last_seen`: id by last signal, a sorted set read by [`Store::quiet_since`];
//! - `hosts`: host name to the last time any session on it was heard, `since\0<host>` to
//!   since when it has been heard without a gap, `pause\0<host>` to its longest silence since,
//!   and `notice\0<host>` to what is said of it (JSON of [`coord_core::Notice`]), a hash;
//! - `seq`: the event counter; `events`: the event log, a stream trimmed to about 100 000
//!   entries on every append (`MAXLEN ~`);
//! - `task:<id>`: a task, a hash of its `revision` and its `record` (JSON); `tasks`: task ids by
//!   the time they were added, a sorted set; `waiting`, `open` and `finished`: the indexes of
//!   the tasks that wait, of those not finished (both by age) and of the finished ones (by
//!   when they finished), sorted sets; `tokens`: the fencing-token counter.
//!
//! No key expires: sessions leave by eviction only, so a session is never lost before the sweep
//! has judged it. Needs Redis 6.2 or later (exclusive stream ranges).
//!
//! Connections are synchronous (no async runtime on the hook path) and bounded in time by
//! [`Config::connect_timeout`]: the connection attempt, then every read and write.

mod batch;
mod record;
mod sentinel;
mod tasks;

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use ::redis::{
    Client, Connection, ConnectionLike, FromRedisValue, RedisError, Script, ScriptInvocation,
};
use coord_core::{
    Beat, Event, EventKind, ExitStatus, HostHeard, Notice, Phase, Registration, Session, Source,
    Task, Timestamp,
};

use crate::url::RedisUrl;
use crate::{
    ClaimOutcome, ClaimRequest, Config, Renewal, Result, Store, StoreError, TaskEvent, TaskPut,
};

/// How many stream entries [`Store::session_events`] reads per round trip.
const SCAN_BATCH: usize = 1_000;

/// The scripts coord runs, each one file after `common.lua`.
#[derive(Clone, Copy)]
enum Lua {
    Register,
    Heartbeat,
    Unregister,
    RecordExit,
    Evict,
    PutTask,
    NoteHost,
    ClaimTask,
    IndexTasks,
    RetireTasks,
    FenceTokens,
}

/// What the heartbeat script answers.
#[derive(Clone, Copy)]
enum Answer {
    /// The whole record ([`Store::heartbeat`]).
    Record,
    /// The counters only ([`Store::renew`]).
    Counters,
}

/// The file of each [`Lua`], in its order.
const LUA_FILES: [&str; 11] = [
    include_str!("register.lua"),
    include_str!("heartbeat.lua"),
    include_str!("unregister.lua"),
    include_str!("record_exit.lua"),
    include_str!("evict.lua"),
    include_str!("put_task.lua"),
    include_str!("note_host.lua"),
    include_str!("claim_task.lua"),
    include_str!("index_tasks.lua"),
    include_str!("retire_tasks.lua"),
    include_str!("fence_tokens.lua"),
];

/// The scripts of one store, each built as first run: the constants the scripts share with
/// the Rust side (the store's host gap among them), `common.lua`, then the script's file.
struct Scripts {
    host_gap: Duration,
    built: [OnceCell<Script>; LUA_FILES.len()],
}

impl Scripts {
    fn new(host_gap: Duration) -> Self {
        Self {
            host_gap,
            built: Default::default(),
        }
    }

    fn get(&self, lua: Lua) -> &Script {
        self.built[lua as usize].get_or_init(|| {
            Script::new(&format!(
                "local HOST_GAP_MS = {}\nlocal SINCE_PREFIX = '{}'\nlocal PAUSE_PREFIX = '{}'\n\
                 local NOTICE_PREFIX = '{}'\n{}{}",
                self.host_gap.as_millis(),
                SINCE_PREFIX.replace('\0', "\\0"),
                PAUSE_PREFIX.replace('\0', "\\0"),
                NOTICE_PREFIX.replace('\0', "\\0"),
                include_str!("common.lua"),
                LUA_FILES[lua as usize]
            ))
        })
    }
}

/// What the field of the `hosts` hash holding since when a host has been heard without a gap
/// starts with, the host's name after it (the host's own field holds when it was last heard);
/// a host name holds no NUL.
const SINCE_PREFIX: &str = "since\0";

/// What the field of the `hosts` hash holding a host's longest silence since it has been heard
/// without a gap (ms) starts with, the host's name after it.
const PAUSE_PREFIX: &str = "pause\0";

/// What the field of the `hosts` hash holding what is said of a host starts with (JSON of
/// [`coord_core::Notice`]), the host's name after it.
const NOTICE_PREFIX: &str = "notice\0";

/// The field of the `hosts` hash that holds since when `host` has been heard without a gap.
fn since_field(host: &str) -> String {
    format!("{SINCE_PREFIX}{host}")
}

/// The field of the `hosts` hash that holds `host`'s longest pause.
fn pause_field(host: &str) -> String {
    format!("{PAUSE_PREFIX}{host}")
}

/// The field of the `hosts` hash that holds what is said of `host`.
fn notice_field(host: &str) -> String {
    format!("{NOTICE_PREFIX}{host}")
}

/// A host's fields as stored: its last signal, since when heard without a gap, its longest
/// pause since (ms), its notice.
fn host_from_fields(
    last: i64,
    since: Option<i64>,
    pause: Option<u64>,
    notice: Option<&str>,
) -> Result<HostHeard> {
    Ok(HostHeard {
        last: Timestamp::from_millis(last),
        since: Timestamp::from_millis(since.unwrap_or(0)),
        pause: Duration::from_millis(pause.unwrap_or(0)),
        notice: notice.map(serde_json::from_str).transpose()?,
    })
}

/// Where a store's connection goes.
enum Target {
    /// The server the URL names.
    Server(Client),
    /// The master that the URL's sentinels name now.
    Sentinels(RedisUrl),
}

/// The shared store.
pub struct RedisStore {
    target: Target,
    con: RefCell<Connection>,
    /// Through sentinels: the replication id of the master the connection reaches, until the
    /// namespace's token counter is fenced on it (see [`sentinel`]).
    unfenced: RefCell<Option<String>>,
    keys: Keys,
    /// The server's URL with its password masked, for errors.
    url: String,
    timeout: Duration,
    scripts: Scripts,
    /// Whether the open and finished indexes are known whole (see `index_tasks.lua`).
    indexed: Cell<bool>,
}

/// The keys of one namespace.
struct Keys {
    /// `coord:{<ns>}:`, the prefix every key of the namespace starts with.
    prefix: String,
    ids: String,
    last_seen: String,
    hosts: String,
    seq: String,
    events: String,
    tasks: String,
    /// The tasks that wait in the queue, by age (a sorted set; see `claim_task.lua`).
    waiting: String,
    /// Set once `waiting` was built from every task of the namespace.
    waiting_built: String,
    /// The tasks not finished, by age (a sorted set; see `put_task.lua`).
    open: String,
    /// The finished tasks, by when they finished (a sorted set).
    finished: String,
    /// Set once `open` and `finished` were built from every task of the namespace.
    indexed: String,
    tokens: String,
    /// The replication id of the master `tokens` was last fenced on.
    tokens_fenced: String,
}

impl Keys {
    /// The keys of `namespace`. `%`, `{` and `}` in its name are percent-encoded, so the hash
    /// tag is the whole name and two namespaces never share a key.
    fn new(namespace: &str) -> Self {
        let mut tag = String::with_capacity(namespace.len());
        for c in namespace.chars() {
            match c {
                '%' => tag.push_str("%25"),
                '{' => tag.push_str("%7B"),
                '}' => tag.push_str("%7D"),
                c => tag.push(c),
            }
        }
        let prefix = format!("coord:{{{tag}}}:");
        let key = |name: &str| format!("{prefix}{name}");
        Self {
            ids: key("ids"),
            last_seen: key("last_seen"),
            hosts: key("hosts"),
            seq: key("seq"),
            events: key("events"),
            tasks: key("tasks"),
            waiting: key("waiting"),
            waiting_built: key("waiting:built"),
            open: key("open"),
            finished: key("finished"),
            indexed: key("open:built"),
            tokens: key("tokens"),
            tokens_fenced: key("tokens:fenced"),
            prefix,
        }
    }

    fn session(&self, id: &str) -> String {
        format!("{}session:{id}", self.prefix)
    }

    fn task(&self, id: &str) -> String {
        format!("{}{}", self.task_prefix(), id)
    }

    fn task_prefix(&self) -> String {
        format!("{}task:", self.prefix)
    }
}

impl RedisStore {
    /// Connects to the server `url` names (or the master its sentinels name), within
    /// [`Config::connect_timeout`].
    pub fn open(url: &RedisUrl, config: &Config) -> Result<Self> {
        let shown = url.to_string();
        let target = if url.sentinels().is_some() {
            Target::Sentinels(url.clone())
        } else {
            url.connection_info()
                .and_then(Client::open)
                .map(Target::Server)
                .map_err(|source| StoreError::Connect {
                    url: shown.clone(),
                    source,
                })?
        };
        let (con, unfenced) = connect_to(&target, config.connect_timeout).map_err(failed(
            &shown,
            config.connect_timeout,
            Stage::Connect,
        ))?;
        Ok(Self {
            target,
            con: RefCell::new(con),
            unfenced: RefCell::new(unfenced),
            keys: Keys::new(&config.namespace),
            url: shown,
            timeout: config.connect_timeout,
            scripts: Scripts::new(config.host_gap),
            indexed: Cell::new(false),
        })
    }

    /// Runs `f` on the connection, connecting again first if the last request broke it, and
    /// again (once) should the server have become a replica by a failover.
    fn with<T>(&self, f: impl FnMut(&mut Connection) -> Result<T, RedisError>) -> Result<T> {
        self.on_connection(false, f)
    }

    /// The same for a call that may take a fencing token: on a master the namespace's token
    /// counter was not fenced on yet, it is fenced first.
    fn with_tokens<T>(&self, f: impl FnMut(&mut Connection) -> Result<T, RedisError>) -> Result<T> {
        self.on_connection(true, f)
    }

    fn on_connection<T>(
        &self,
        tokens: bool,
        mut f: impl FnMut(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T> {
        let mut con = self.con.borrow_mut();
        let fail = failed(&self.url, self.timeout, Stage::Connect);
        if !con.is_open() {
            self.reconnect(&mut con).map_err(&fail)?;
        }
        let mut run = |con: &mut Connection| {
            if tokens {
                self.fence(con)?;
            }
            f(con)
        };
        match run(&mut con) {
            Err(e) if self.demoted(&e) => {
                self.reconnect(&mut con).map_err(&fail)?;
                run(&mut con)
            }
            other => other,
        }
        .map_err(failed(&self.url, self.timeout, Stage::Request))
    }

    /// Replaces the connection with a fresh one to the target.
    fn reconnect(&self, con: &mut Connection) -> Result<(), RedisError> {
        let (fresh, unfenced) = connect_to(&self.target, self.timeout)?;
        *con = fresh;
        *self.unfenced.borrow_mut() = unfenced;
        Ok(())
    }

    /// Fences the token counter on the master `con` reaches, if not done yet.
    fn fence(&self, con: &mut Connection) -> Result<(), RedisError> {
        let Some(replid) = self.unfenced.borrow().clone() else {
            return Ok(());
        };
        let mut call = self.scripts.get(Lua::FenceTokens).prepare_invoke();
        call.key(&self.keys.tokens)
            .key(&self.keys.tokens_fenced)
            .arg(&replid)
            .arg(sentinel::TOKEN_GAP);
        let _: u64 = call.invoke(con)?;
        *self.unfenced.borrow_mut() = None;
        Ok(())
    }

    /// Whether `e` says the server is no longer the master the sentinels named.
    fn demoted(&self, e: &RedisError) -> bool {
        matches!(self.target, Target::Sentinels(_))
            && e.kind() == ::redis::ErrorKind::Server(::redis::ServerErrorKind::ReadOnly)
    }

    /// A call of `script` on the session `id` with `args` after the id.
    fn session_call(&self, lua: Lua, id: &str, args: &[&str]) -> ScriptInvocation<'_> {
        let k = &self.keys;
        let mut call = self.scripts.get(lua).prepare_invoke();
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
    fn heartbeat_call(
        &self,
        id: &str,
        beat: &Beat,
        answer: Answer,
    ) -> Result<ScriptInvocation<'_>> {
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

/// A connection to `target`, within `timeout`, then with `timeout` on every read and write;
/// through sentinels, with the master's replication id.
fn connect_to(
    target: &Target,
    timeout: Duration,
) -> Result<(Connection, Option<String>), RedisError> {
    match target {
        Target::Server(client) => connect_raw(client, timeout).map(|con| (con, None)),
        Target::Sentinels(url) => {
            sentinel::master(url, timeout).map(|(con, replid)| (con, Some(replid)))
        }
    }
}

/// The same, failing with the `redis` crate's error.
fn connect_raw(client: &Client, timeout: Duration) -> Result<Connection, RedisError> {
    let con = client.get_connection_with_timeout(timeout)?;
    con.set_read_timeout(Some(timeout))?;
    con.set_write_timeout(Some(timeout))?;
    Ok(con)
}

/// What a connection was doing when it failed.
#[derive(Clone, Copy)]
enum Stage {
    Connect,
    Request,
}

/// How an error of the `redis` crate reads as a store error: a timeout whatever the stage, else
/// a failure to connect or of a request.
fn failed(url: &str, timeout: Duration, stage: Stage) -> impl Fn(RedisError) -> StoreError {
    move |source| {
        let url = url.to_owned();
        match stage {
            _ if source.is_timeout() => StoreError::Timeout {
                url,
                after: timeout,
            },
            Stage::Connect => StoreError::Connect { url, source },
            Stage::Request => StoreError::Redis { url, source },
        }
    }
}

/// `n` as a `COUNT` or `LIMIT` argument.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store for RedisStore {
    fn now(&self) -> Result<Timestamp> {
        let (secs, micros): (i64, i64) = self.with(|con| ::redis::cmd("TIME").query(con))?;
        Ok(Timestamp::from_millis(secs * 1_000 + micros / 1_000))
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
    /// stream (about 100 000 entries) for a session with few events.
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
        self.with_tokens(|con| ::redis::cmd("INCR").arg(&self.keys.tokens).query(con))
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
