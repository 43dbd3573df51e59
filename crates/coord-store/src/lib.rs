//! Where coord keeps the fleet: the [`Store`] trait and its backends.
//!
//! Every backend stores the same records ([`coord_core::Session`], [`coord_core::Event`]) and
//! answers the same small set of operations; the service above never names the backend. A
//! backend makes each operation atomic on its own (one write transaction in SQLite, one Lua
//! script in Redis), reads the time from its own clock ([`Store::now`]: the host's for SQLite,
//! the server's for Redis), and appends an event with a growing sequence number for every
//! change. The shared conformance suite (`tests/conformance/`) holds every backend to
//! the same behaviour.
//!
//! What this crate does not do: decide states (that is [`coord_core::classify()`]), look at
//! processes or files, or choose policy.
//!
//! - [`url`]: parses `COORD_URL` and finds the default store path.
//! - [`sqlite`]: the embedded store (SQLite in WAL mode), the default.
//! - [`redis`]: a Redis server shared by a fleet of machines.
//! - [`remote`]: a `coord serve` that runs each operation on its own store.
//! - [`clock`]: the embedded store's clock (the host's, or a manual one for tests).
//! - [`error`]: the errors of the storage layer.

pub mod clock;
pub mod error;
pub mod redis;
pub mod remote;
pub mod sqlite;
pub mod url;

use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::{
    Beat, Event, EventKind, ExitStatus, HostHeard, Notice, Registration, Session, Source, Task,
    TaskError, Timestamp,
};

pub use clock::Clock;
pub use error::StoreError;
pub use url::StoreUrl;

/// An event to log with a task change: the session it concerns (the holder) and what happened.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskEvent {
    /// The session concerned.
    pub session: String,
    /// Its incarnation, if known.
    pub incarnation: u64,
    /// What happened.
    pub kind: EventKind,
}

/// A claim a store makes in one atomic step ([`Store::claim_task`]).
#[derive(Clone, Copy, Debug)]
pub struct ClaimRequest<'a> {
    /// The claiming session.
    pub session: &'a str,
    /// Its incarnation, for the event.
    pub incarnation: u64,
    /// Its labels: a task claimed as the next one must fit them.
    pub labels: &'a BTreeMap<String, String>,
    /// The task to claim; `None`: the oldest that waits and fits ([`Task::next_for`]).
    pub task: Option<&'a str>,
    /// How long the claim holds without progress.
    pub lease: Duration,
}

/// What a renewal answers ([`Store::renew`]): the session's counters after the heartbeat,
/// without the rest of its record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Renewal {
    /// The session.
    pub id: String,
    /// Its incarnation.
    pub incarnation: u64,
    /// Its revision after the heartbeat.
    pub revision: u64,
    /// Its activity heartbeats so far.
    pub beats: u64,
}

impl From<&Session> for Renewal {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.clone(),
            incarnation: s.incarnation,
            revision: s.revision,
            beats: s.beats,
        }
    }
}

/// A task to store by compare-and-set ([`Store::put_task`]), one of a batch
/// ([`Store::put_tasks`]).
#[derive(Clone, Copy, Debug)]
pub struct TaskPut<'a> {
    /// The task as it is to be stored.
    pub task: &'a Task,
    /// The revision the stored one must still have (`None`: there must be none yet).
    pub expected: Option<u64>,
    /// The events to log with it.
    pub events: &'a [TaskEvent],
}

/// What a claim came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Claimed, with its new fencing token.
    Claimed(Box<Task>),
    /// The task named is not there.
    NoSuchTask,
    /// The task named cannot be claimed now (no token was taken).
    Refused(TaskError),
    /// No task waits that fits.
    NothingWaits,
}

impl ClaimOutcome {
    /// The refusal of a claim of `id` that the store's own step turned down, told by the core
    /// from the task as it stands now (for a backend whose step answers only that it did).
    fn refused(store: &dyn Store, id: &str) -> Result<Self> {
        let now = store.now()?;
        Ok(match store.task(id)? {
            None => ClaimOutcome::NoSuchTask,
            Some(t) => {
                ClaimOutcome::Refused(t.claimable_now(now).err().unwrap_or(TaskError::NotPending {
                    task: t.id.clone(),
                    state: t.state.name(),
                }))
            }
        })
    }
}

/// The result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to open a store.
#[derive(Clone, Debug)]
pub struct Config {
    /// The fleet this handle sees (`COORD_NAMESPACE`); namespaces sharing one store never mix.
    pub namespace: String,
    /// How long one operation may wait for a store that another writer holds (SQLite).
    pub busy_timeout: Duration,
    /// How long a store behind a network may take to connect, and then to answer each request
    /// (Redis: the connect timeout and the read and write timeouts of its connection). A
    /// caller that must not hang on an unreachable server (the hook path) sets it short.
    pub connect_timeout: Duration,
    /// Where the embedded store reads the time (Redis always reads the server's).
    pub clock: Clock,
    /// Whether the handle belongs to a process that makes many changes over a long life
    /// (`coord serve`) rather than one change and exit (the hook path). The embedded store then
    /// keeps the sessions it last wrote (so a change reads no row while nobody else writes),
    /// and leaves its write-ahead log to the process, which copies it back with
    /// [`Store::checkpoint`] (see [`sqlite`]).
    pub lasting: bool,
    /// The silence of a whole host after which its gap-free time begins anew
    /// ([`HostHeard::since`]): the namespace's [`coord_core::recording_gap`], which every
    /// writer of the namespace must share.
    pub host_gap: Duration,
    /// How many events the namespace's log keeps ([`coord_core::Policy::event_keep`]): the
    /// embedded store trims it in [`Store::tidy`], Redis on every append (about: by whole
    /// nodes of the stream).
    pub event_keep: u64,
    /// Who calls, for a server that limits each caller's rate (`coord serve` counts a remote
    /// store's calls against it, not against an address many hosts may share): the host.
    pub client: Option<String>,
}

impl Config {
    /// The defaults for the namespace: up to 30 s in the queue for a store other writers hold
    /// (200 processes writing at once queue for seconds: waiting is not failing; the hook path
    /// sets its own short wait), 2 s to reach a server.
    #[must_use]
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            busy_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
            clock: Clock::Host,
            lasting: false,
            host_gap: coord_core::HOST_GAP,
            event_keep: coord_core::Policy::default().event_keep,
            client: None,
        }
    }

    /// The same for a namespace judged with `policy` (its [`coord_core::recording_gap`]) and
    /// keeping its events.
    #[must_use]
    pub fn judged_by(self, policy: &coord_core::Policy) -> Self {
        Self {
            host_gap: coord_core::recording_gap(policy),
            event_keep: policy.event_keep,
            ..self
        }
    }

    /// The same for a handle that makes many changes over a long life ([`Config::lasting`]).
    #[must_use]
    pub fn lasting(self) -> Self {
        Self {
            lasting: true,
            ..self
        }
    }
}

/// The operations coord needs from a store, each atomic.
///
/// Handles are cheap to open and are used from one thread at a time; open one per thread.
pub trait Store: Send {
    /// The store's clock: the host's for the embedded store, the server's for a shared one.
    fn now(&self) -> Result<Timestamp>;

    /// Registers (or re-registers) a session and returns the stored record.
    fn register(&self, registration: &Registration) -> Result<Session>;

    /// Applies a heartbeat. `None` when the id is not registered, has ended, or its process is
    /// known to have exited: the caller answers "not alive" and may register afresh.
    fn heartbeat(&self, id: &str, beat: &Beat) -> Result<Option<Session>>;

    /// Applies a heartbeat as [`Store::heartbeat`] does, answering only the session's counters:
    /// the renewal that every tool call of every agent makes, which a backend behind a network
    /// answers without sending the whole record back.
    fn renew(&self, id: &str, beat: &Beat) -> Result<Option<Renewal>> {
        Ok(self.heartbeat(id, beat)?.as_ref().map(Renewal::from))
    }

    /// Ends a session cleanly. `None` when the id is not registered.
    fn unregister(&self, id: &str, source: Source) -> Result<Option<Session>>;

    /// Records that the process of incarnation `incarnation` of `id` ended. False when the
    /// session is gone, is another incarnation now, or an exit was already recorded.
    fn record_exit(
        &self,
        id: &str,
        incarnation: u64,
        status: ExitStatus,
        source: Source,
    ) -> Result<bool>;

    /// One session.
    fn session(&self, id: &str) -> Result<Option<Session>>;

    /// Every session of the namespace, ordered by id.
    fn sessions(&self) -> Result<Vec<Session>>;

    /// Up to `limit` sessions last seen before `before`, the longest silent first. Reads an
    /// index, so its cost grows with the number returned, not with the fleet.
    fn quiet_since(&self, before: Timestamp, limit: usize) -> Result<Vec<Session>>;

    /// When any session on `host` was last heard from, and since when the host has been heard
    /// with no silence of all its sessions longer than [`Store::host_gap`] (each change that
    /// moves a session's `last_seen` past such a silence restarts it). `None`: nothing heard
    /// there.
    fn host_heard(&self, host: &str) -> Result<Option<HostHeard>>;

    /// The silence after which the store begins a host's gap-free time anew
    /// ([`Config::host_gap`] of whoever writes it: a `coord serve`'s own, through one).
    fn host_gap(&self) -> Result<Duration>;

    /// Every host of the namespace the store has heard (or heard of), by name, as
    /// [`Store::host_heard`] tells each. Hosts are few: one row each, never one per session.
    fn hosts(&self) -> Result<BTreeMap<String, HostHeard>>;

    /// Replaces what is said of `host` (its [`HostHeard::notice`]) with `notice`, only if it is
    /// still `expected` (a compare-and-set, so that two sweeps never both report a host lost),
    /// and logs `event` with the host's name as the event's session. A host never heard is
    /// recorded as heard at the notice's time. False, changing nothing, if the notice changed.
    fn note_host(
        &self,
        host: &str,
        expected: Option<Notice>,
        notice: Option<Notice>,
        event: &EventKind,
    ) -> Result<bool>;

    /// Removes a session, only if its stored revision is still `revision` (nothing happened to
    /// it since the caller judged it), and logs an `evicted` event with `reason`.
    fn evict(&self, id: &str, revision: u64, reason: &str) -> Result<bool>;

    /// Up to `limit` events with a sequence number above `after`, oldest first.
    fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>>;

    /// The last `limit` events of one session, oldest first.
    fn session_events(&self, id: &str, limit: usize) -> Result<Vec<Event>>;

    /// Housekeeping that must never run on the hook path: flush the write-ahead log, trim the
    /// event log to its retention. Bounded in time.
    fn tidy(&self) -> Result<()>;

    /// Copies the write-ahead log back into the store without holding up any writer, and, once
    /// the log has grown past its bound, starts it afresh (waiting, within the busy timeout,
    /// for the writer in between). A process with lasting handles ([`Config::lasting`]) calls
    /// it from a thread that does no writing: nobody else copies their log back, and the disk
    /// syncs a copy waits for then hold up no change. Backends without such a log do nothing.
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }

    /// One task.
    fn task(&self, id: &str) -> Result<Option<Task>>;

    /// Every task of the namespace, oldest first.
    fn tasks(&self) -> Result<Vec<Task>>;

    /// The tasks not finished (waiting, claimed, coord's own), oldest first, through an index:
    /// finished ones cost nothing.
    fn open_tasks(&self) -> Result<Vec<Task>>;

    /// The `limit` tasks finished last ([`Task::finished_at`]), the latest first.
    fn finished_tasks(&self, limit: usize) -> Result<Vec<Task>>;

    /// Removes up to `limit` tasks finished before `before`, the oldest first, with their
    /// history; never one that is open. Returns how many went.
    fn retire_tasks(&self, before: Timestamp, limit: usize) -> Result<usize>;

    /// Stores `task` only if the stored one's revision is still `expected` (`None`: only if
    /// there is none yet), and logs `events` with it, atomically. False, changing nothing, if
    /// the task changed (or appeared) since the caller read it: tasks change by compare-and-set,
    /// so that the rules of [`coord_core::task`] run once, in Rust, for every backend.
    fn put_task(&self, task: &Task, expected: Option<u64>, events: &[TaskEvent]) -> Result<bool>;

    /// The namespace's next fencing token: a counter that only grows, never reused.
    fn next_token(&self) -> Result<u64>;

    /// Claims a task in one atomic step: picks it (the one named, or the oldest that waits and
    /// fits the session's labels, through an index of the waiting tasks, so finished ones cost
    /// nothing), takes its fencing token, applies [`Task::claim`] and logs its event. No race
    /// is lost and no token is taken for a task that is not claimed.
    fn claim_task(&self, claim: &ClaimRequest) -> Result<ClaimOutcome>;

    /// Applies heartbeats in order, each as [`Store::renew`] does, and returns each one's
    /// result. A backend behind a network sends them together, in one round trip.
    fn renewals(&self, beats: &[(&str, &Beat)]) -> Vec<Result<Option<Renewal>>> {
        beats
            .iter()
            .map(|(id, beat)| self.renew(id, beat))
            .collect()
    }

    /// The sessions of `ids`, in that order, each as [`Store::session`] reads it (in one round
    /// trip behind a network).
    fn sessions_named(&self, ids: &[&str]) -> Vec<Result<Option<Session>>> {
        ids.iter().map(|id| self.session(id)).collect()
    }

    /// The tasks of `ids`, in that order, each as [`Store::task`] reads it (in one round trip
    /// behind a network).
    fn tasks_named(&self, ids: &[&str]) -> Vec<Result<Option<Task>>> {
        ids.iter().map(|id| self.task(id)).collect()
    }

    /// Makes claims in order, each as [`Store::claim_task`] does (in one round trip behind a
    /// network): each one is still one atomic step of its own.
    fn claim_tasks(&self, claims: &[ClaimRequest]) -> Vec<Result<ClaimOutcome>> {
        claims.iter().map(|c| self.claim_task(c)).collect()
    }

    /// Stores tasks in order, each as [`Store::put_task`] does (in one round trip behind a
    /// network): each one is still a compare-and-set of its own.
    fn put_tasks(&self, puts: &[TaskPut]) -> Vec<Result<bool>> {
        puts.iter()
            .map(|p| self.put_task(p.task, p.expected, p.events))
            .collect()
    }

    /// Runs `work`, whose changes the store may group to make them cheaper: the embedded store
    /// runs them in one write transaction (one commit for a batch of heartbeats). No change
    /// lands in part: one that fails after writing fails the whole group. An error means the
    /// group did not land: none of its changes, whatever each returned. Backends without such
    /// a group run `work` as it is.
    fn grouped(&self, work: &mut dyn FnMut()) -> Result<()> {
        work();
        Ok(())
    }
}

/// Opens the store `url` names.
pub fn open(url: &StoreUrl, config: &Config) -> Result<Box<dyn Store>> {
    match url {
        StoreUrl::Sqlite(path) => Ok(Box::new(sqlite::SqliteStore::open(path, config)?)),
        StoreUrl::Redis(url) => Ok(Box::new(redis::RedisStore::open(url, config)?)),
        StoreUrl::Http(url) => Ok(Box::new(remote::RemoteStore::open(url, config))),
    }
}
