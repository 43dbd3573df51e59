//! The event log: every stored change to a session, numbered.
//!
//! Backends give each event a sequence number that only grows, so a reader resumes where it
//! stopped (`coord events --since SEQ`, the server's subscriptions).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::session::{ExitStatus, Runtime};
use crate::time::Timestamp;

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventKind {
    /// A new incarnation registered (the first, or a restart of the same id).
    Registered {
        /// The kind of agent.
        runtime: Runtime,
        /// `host:pid` or the host.
        location: String,
    },
    /// The agent reported a new phase.
    Phase {
        /// The phase before.
        from: String,
        /// The phase now.
        to: String,
    },
    /// The session's process was seen to end.
    Exited {
        /// How it ended.
        status: ExitStatus,
    },
    /// The session ended cleanly.
    Ended,
    /// The sweep removed the session.
    Evicted {
        /// Why: the verdict that made it evictable.
        reason: String,
    },
    /// The session claimed a task.
    Claimed {
        /// The task.
        task: String,
        /// The claim's fencing token.
        token: u64,
    },
    /// The session took the leader lease (a claim on the reserved leader task).
    Leader {
        /// The lease's term: its fencing token.
        term: u64,
    },
    /// A task left the session: done, failed, released by it, or taken back by the sweep.
    Unclaimed {
        /// The task.
        task: String,
        /// The task's state now (`done`, `failed`, `pending`).
        state: String,
        /// Why, in words.
        why: String,
    },
    /// A host's state changed by what it said (asleep, awake, down) or what the sweep found
    /// (lost, rejoined). Logged with the host's name as the event's session.
    Host {
        /// What it became: `asleep`, `awake`, `down`, `lost` or `rejoined`.
        became: String,
        /// Why, in words.
        why: String,
    },
}

impl EventKind {
    /// The kind's name, as stored and shown.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Registered { .. } => "registered",
            EventKind::Phase { .. } => "phase",
            EventKind::Exited { .. } => "exited",
            EventKind::Ended => "ended",
            EventKind::Evicted { .. } => "evicted",
            EventKind::Claimed { .. } => "claimed",
            EventKind::Leader { .. } => "leader",
            EventKind::Unclaimed { .. } => "unclaimed",
            EventKind::Host { .. } => "host",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Registered { runtime, location } => {
                write!(f, "registered {runtime} at {location}")
            }
            EventKind::Phase { from, to } => write!(f, "phase {from} -> {to}"),
            EventKind::Exited { status } => write!(f, "process exited: {status}"),
            EventKind::Ended => f.write_str("ended"),
            EventKind::Evicted { reason } => write!(f, "evicted: {reason}"),
            EventKind::Claimed { task, token } => write!(f, "claimed task {task} (token {token})"),
            EventKind::Leader { term } => write!(f, "leads the fleet (term {term})"),
            EventKind::Unclaimed { task, state, why } => write!(f, "task {task} {state}: {why}"),
            EventKind::Host { became, why } => write!(f, "host {became}: {why}"),
        }
    }
}

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its place in the log; only grows.
    pub seq: u64,
    /// When it was stored.
    pub at: Timestamp,
    /// The session it concerns.
    pub session: String,
    /// The session's incarnation at the time.
    pub incarnation: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}
