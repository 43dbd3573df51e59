//! The one service under every adapter: the CLI, the server and the watchers.
//!
//! [`Service`] turns requests into store operations and store records into verdicts. It owns
//! what the core must not do (read the process table, the host's identity, files) and what the
//! store should not know (defaults, the local probe, the sweep's decisions). Adapters parse and
//! print; they never reach into the store themselves.
//!
//! - [`hooks`]: applying an agent's hook event, subagents as child records.
//! - [`hook_receiver`]: the watcher's HTTP endpoint for Claude Code's HTTP hooks.
//! - [`host`]: this machine's identity and the process probe (`/proc`, start time, boot id).
//! - [`workdir`]: the task label a working directory declares (`.claude-task`).
//! - [`process`]: holding a process (pidfd) until it ends.
//! - [`watch`]: the sidecar's loop: renew while the process lives, record its end.
//! - [`hosts`]: what a host says of itself (sleep, wake, shutdown), the hosts the sweep finds
//!   lost or heard again, the table behind `coord hosts`.
//! - [`host_watch`]: the per-host watcher (`coord watch --all`): inotify on the status
//!   directories and a pidfd per session process of the host, in one `poll`.
//! - [`discover`]: agent sessions found with no setup: Claude Code from its status files,
//!   Codex, pi, opencode, Gemini CLI and aider from the process table, with their tmux pane.
//! - [`fleet`]: the classified view of the fleet behind `coord ps` and `coord show`.
//! - [`sweep`]: finding the dead and evicting them, bounded, and taking back their work.
//! - [`leader`]: the leader lease (one session leads a namespace and sweeps).
//! - [`tasks`]: the work queue: claims with fencing tokens, reclaiming from the lost.
//! - [`batch`]: heartbeats, claims and holders' changes of many calls at once, in one round
//!   trip to a store behind a network.
//! - [`json`]: the JSON shapes every adapter shows to scripts (CLI `--json`, the server).
//! - [`report`]: what the fleet did over a window, from the event log (`coord report`).

pub mod attach;
pub mod batch;
pub mod discover;
pub mod fleet;
pub mod hook_receiver;
pub mod hooks;
pub mod host;
pub mod host_watch;
pub mod hosts;
pub mod json;
pub mod leader;
pub mod logind;
pub mod observe;
pub mod process;
pub mod report;
pub mod sweep;
pub mod tasks;
pub mod watch;
pub mod workdir;

use std::collections::BTreeMap;
use std::path::PathBuf;

use coord_core::{
    Beat, Event, Phase, Policy, PolicyOverrides, Registration, Runtime, Session, Source,
};
pub use coord_store::Renewal;
use coord_store::{Store, StoreError};

pub use fleet::{Entry, Fleet};
pub use hooks::HookContext;
pub use host::HostInfo;
pub use sweep::{Released, SweepReport};

/// What went wrong in a service call.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A PID was given that no running process has.
    #[error("no running process with pid {0}")]
    NoSuchProcess(u32),
    /// The session is not registered (or no longer takes signals).
    #[error("session `{0}` is not registered (register it first: coord register --id {0})")]
    NotRegistered(String),
    /// An id that cannot name a session.
    #[error("invalid session id `{0}`: use 1 to 200 printable characters without spaces")]
    InvalidId(String),
    /// A task with this id exists already.
    #[error("task `{0}` exists already")]
    TaskExists(String),
    /// Ids starting with `coord:` are coord's own.
    #[error("task ids starting with `coord:` are reserved: `{0}`")]
    ReservedTask(String),
    /// No task has this id.
    #[error("no task `{0}`")]
    NoSuchTask(String),
    /// No pending task fits the session.
    #[error("no pending task for `{0}` (none waits, or none has labels it carries)")]
    NothingToClaim(String),
    /// Concurrent changes kept winning over this one.
    #[error("task `{0}` kept changing under this change; try again")]
    Contended(String),
    /// A task operation was refused (a stale fencing token, a task that is not pending…).
    #[error(transparent)]
    Task(coord_core::TaskError),
}

/// The result of a service call.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// A registration as an adapter receives it; the service fills in what is missing.
#[derive(Clone, Debug, Default)]
pub struct RegisterRequest {
    /// The id; default `<host>-<pid>`.
    pub id: Option<String>,
    /// The session this one works for (a subagent's parent).
    pub parent: Option<String>,
    /// The process; its start time is read from `/proc`, and it must be running.
    pub pid: Option<u32>,
    /// The process's start time, when the caller knows it already (a child it holds).
    pub pid_start: Option<u64>,
    /// The runtime; default guessed from the process name.
    pub runtime: Option<Runtime>,
    /// The task label; default from `.claude-task` above `cwd`, else `session`.
    pub task: Option<String>,
    /// Where the session works.
    pub cwd: Option<PathBuf>,
    /// Free labels.
    pub labels: BTreeMap<String, String>,
    /// A file whose modification time is a passive signal.
    pub log_path: Option<PathBuf>,
    /// Limits for this session alone.
    pub policy: PolicyOverrides,
    /// The phase a new incarnation starts in; default working.
    pub phase: Option<Phase>,
    /// Who registers.
    pub source: Option<Source>,
    /// Start a new incarnation even if the same process registered before.
    pub restart: bool,
}

/// How many evictions a command other than `coord sweep` may do in passing.
pub const PASSING_SWEEP_LIMIT: usize = 32;

/// The service: one store, this host, one policy.
pub struct Service {
    store: Box<dyn Store>,
    host: HostInfo,
    policy: Policy,
    /// It runs beside the store (`coord serve`): see [`Service::beside_the_store`].
    beside_the_store: bool,
}

impl Service {
    /// A service over `store`, judging with `policy`, running on `host`.
    #[must_use]
    pub fn new(store: Box<dyn Store>, host: HostInfo, policy: Policy) -> Self {
        Self {
            store,
            host,
            policy,
            beside_the_store: false,
        }
    }

    /// The same service, for a process that runs beside the store (`coord serve`): the
    /// signals of its own host ([`coord_core::Hosts::beside_the_store`]) witness no other
    /// host lost.
    #[must_use]
    pub fn beside_the_store(self) -> Self {
        Self {
            beside_the_store: true,
            ..self
        }
    }

    /// This host.
    #[must_use]
    pub fn host(&self) -> &HostInfo {
        &self.host
    }

    /// The store itself, for a transport of the [`Store`] trait (the server's `store.*`
    /// methods, which carry a remote client's operations): everything else goes through the
    /// service's own methods.
    #[must_use]
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Runs `work` as one group of the store's changes ([`Store::grouped`]: one write
    /// transaction on the embedded store) and returns what it returns. An error means the
    /// group did not land, whatever `work` returned.
    pub fn group<T>(&self, work: impl FnOnce() -> T) -> Result<T> {
        let mut work = Some(work);
        let mut out = None;
        self.store.grouped(&mut || {
            if let Some(work) = work.take() {
                out = Some(work());
            }
        })?;
        out.ok_or_else(|| {
            ServiceError::Store(coord_store::StoreError::GroupFailed(
                "the store ran nothing of the group".to_owned(),
            ))
        })
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The default id of a session whose process is `pid`: `<host>-<pid>`.
    #[must_use]
    pub fn default_id(&self, pid: u32) -> String {
        format!("{}-{pid}", self.host.name)
    }

    /// Registers a session, filling in the host, the process start time, the runtime and the
    /// task label; then sweeps in passing.
    pub fn register(&self, req: RegisterRequest) -> Result<Session> {
        let session = self.store.register(&self.registration(req)?)?;
        self.sweep(PASSING_SWEEP_LIMIT)?;
        Ok(session)
    }

    /// Applies a heartbeat; when the session does not take it (never registered, ended, or
    /// the store lost it), registers it from `fallback` and applies the heartbeat again. This
    /// is the hook path: a store that was wiped heals on the next tool call.
    pub fn heartbeat_or_register(
        &self,
        id: &str,
        beat: &Beat,
        fallback: impl FnOnce() -> RegisterRequest,
    ) -> Result<Renewal> {
        if let Some(renewed) = self.store.renew(id, beat)? {
            return Ok(renewed);
        }
        let fallback = fallback();
        // The new record starts in the phase the beat reports: a beat applied after the
        // registration could not change it, being observed before the registration was stored.
        let req = RegisterRequest {
            id: Some(id.to_owned()),
            phase: beat.phase.clone(),
            ..fallback
        };
        self.store.register(&self.registration(req)?)?;
        self.heartbeat(id, beat)
    }

    pub(crate) fn registration(&self, req: RegisterRequest) -> Result<Registration> {
        let pid_start = match (req.pid, req.pid_start) {
            (Some(_), Some(start)) => Some(start),
            (Some(pid), None) => {
                Some(host::start_time(pid).ok_or(ServiceError::NoSuchProcess(pid))?)
            }
            (None, _) => None,
        };
        let id = match req.id {
            Some(id) => validate_id(id)?,
            None => self.default_id(req.pid.unwrap_or_else(host::parent_pid)),
        };
        let runtime = req
            .runtime
            .or_else(|| req.pid.map(host::guess_runtime))
            .unwrap_or_default();
        let task = req
            .task
            .or_else(|| req.cwd.as_deref().and_then(workdir::task_label))
            .unwrap_or_else(|| "session".to_owned());
        Ok(Registration {
            id,
            parent: req.parent,
            host: self.host.name.clone(),
            pid: req.pid,
            pid_start,
            boot_id: self.host.boot_id.clone(),
            runtime,
            task,
            cwd: req.cwd.map(|p| p.display().to_string()),
            labels: req.labels,
            log_path: req.log_path.map(|p| p.display().to_string()),
            policy: req.policy,
            phase: req.phase.unwrap_or(Phase::Working),
            source: req.source.unwrap_or(Source::Cli),
            restart: req.restart,
        })
    }

    /// Applies a heartbeat; [`ServiceError::NotRegistered`] when the session does not take it.
    pub fn heartbeat(&self, id: &str, beat: &Beat) -> Result<Renewal> {
        batch::one(self.heartbeats(&[(id, beat)]))
    }

    /// Ends a session cleanly.
    pub fn unregister(&self, id: &str, source: Source) -> Result<Session> {
        self.store
            .unregister(id, source)?
            .ok_or_else(|| ServiceError::NotRegistered(id.to_owned()))
    }

    /// One session as stored.
    pub fn session(&self, id: &str) -> Result<Option<Session>> {
        Ok(self.store.session(id)?)
    }

    /// Events after `after`, at most `limit`.
    pub fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        Ok(self.store.events(after, limit)?)
    }

    /// The store's clock.
    pub fn now(&self) -> Result<coord_core::Timestamp> {
        Ok(self.store.now()?)
    }

    /// Housekeeping for commands that are not on the hook path.
    pub fn tidy(&self) -> Result<()> {
        Ok(self.store.tidy()?)
    }

    /// Copies the store's write-ahead log back ([`Store::checkpoint`]): the duty of a process
    /// with lasting handles, from a thread that does not write.
    pub fn checkpoint(&self) -> Result<()> {
        Ok(self.store.checkpoint()?)
    }
}

/// The longest session id, in bytes.
pub const MAX_ID_BYTES: usize = 200;

fn validate_id(id: String) -> Result<String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if ok {
        Ok(id)
    } else {
        Err(ServiceError::InvalidId(id))
    }
}
