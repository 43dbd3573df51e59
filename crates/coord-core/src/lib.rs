//! The pure core of coord: what a session is, the signals that prove it lives, the policy that
//! judges them, and the one function that turns all of it into a state.
//!
//! Nothing here does I/O or reads a clock: every function that needs the time takes it as a
//! parameter. That keeps the rules testable without processes, files or sleeps, and lets every
//! adapter (the CLI, the hooks, the sidecar, the server) and every storage backend agree on one
//! meaning of "alive".
//!
//! - [`time`]: timestamps in epoch milliseconds and compact human durations.
//! - [`session`]: the [`Session`] record and its parts (phase, process fact, runtime).
//! - [`signal`]: what can happen to a session ([`Registration`], [`Beat`], exit, unregister)
//!   and how each changes the record; the events each change produces.
//! - [`policy`]: the time limits that judge a session, with per-session overrides.
//! - [`host`]: what is heard of each host, what a host said of itself, and when a host is
//!   lost.
//! - [`classify`]: [`classify()`], the only place a state is decided.
//! - [`task`]: work, its claims and their fencing tokens.
//! - [`event`]: the entries of the event log.
//! - [`history`]: what the log says each session did over a window (`coord report`).
//! - [`agent_event`]: what Claude Code's and Codex's hook events mean in these terms.
//! - [`transcript`]: what the end of an agent's transcript says that no hook does (an API
//!   error: limited).

pub mod agent_event;
pub mod classify;
pub mod event;
pub mod history;
pub mod host;
pub mod policy;
pub mod session;
pub mod signal;
pub mod task;
pub mod time;
pub mod transcript;

pub use classify::{Rule, State, Verdict, classify};
pub use event::{Event, EventKind};
pub use host::{
    HOST_GAP, HostHeard, HostState, HostVerdict, Hosts, NOTICE_SLACK, Notice, NoticeKind,
    recording_gap,
};
pub use policy::{Policy, PolicyOverrides};
pub use session::{ExitStatus, Phase, ProcessFact, ROLE_LABEL, Runtime, Session, Source};
pub use signal::{Beat, BeatKind, Registration};
pub use task::{LEADER_TASK, NewTask, RESERVED_PREFIX, Task, TaskError, TaskState};
pub use time::{Compact, Timestamp};
