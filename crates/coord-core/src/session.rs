//! The session record: one agent (or any process) that proves it lives.
//!
//! A [`Session`] holds what coord knows, not what it concludes: the identity of the process,
//! the time of each signal, the phase the agent last reported and the last known fact about its
//! process. What state that adds up to is decided by [`crate::classify()`] alone.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::policy::PolicyOverrides;
use crate::time::Timestamp;

/// The kind of agent behind a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Claude Code.
    Claude,
    /// Codex CLI.
    Codex,
    /// The pi coding agent.
    Pi,
    /// A shell script or shell session.
    Shell,
    /// Any other process.
    #[default]
    Other,
}

impl Runtime {
    /// Every runtime, in the order they are listed to people.
    pub const ALL: [Runtime; 5] = [
        Runtime::Claude,
        Runtime::Codex,
        Runtime::Pi,
        Runtime::Shell,
        Runtime::Other,
    ];

    /// The lowercase name used on the command line, in JSON and in the store.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Runtime::Claude => "claude",
            Runtime::Codex => "codex",
            Runtime::Pi => "pi",
            Runtime::Shell => "shell",
            Runtime::Other => "other",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Runtime::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown runtime `{0}` (expected one of: claude, codex, pi, shell, other)")]
pub struct UnknownRuntime(String);

impl FromStr for Runtime {
    type Err = UnknownRuntime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Runtime::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRuntime(s.to_owned()))
    }
}

/// What the agent last said it is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    /// Working on a turn: thinking, writing, between tool calls.
    Working,
    /// A tool call began and has not ended.
    InTool {
        /// The tool's name (`Bash`, `Edit`…).
        tool: String,
        /// When the tool call began.
        since: Timestamp,
    },
    /// The agent cannot go on until a person answers (a permission request, a question).
    Blocked {
        /// What it waits for ("permission for Bash").
        on: String,
    },
    /// The turn is over, but work the agent started in the background (subagents, shells)
    /// still runs.
    Background,
    /// The agent is alive but cannot work: an API error, a rate or usage limit.
    Limited {
        /// Why.
        why: String,
    },
    /// The turn is over; the agent waits for a person to give it the next prompt.
    Waiting,
    /// The session ended cleanly (unregistered, or the agent said so).
    Ended,
}

impl Phase {
    /// The phase's name as shown to people and written in events.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Working => "working",
            Phase::InTool { .. } => "in-tool",
            Phase::Blocked { .. } => "blocked",
            Phase::Background => "background",
            Phase::Limited { .. } => "limited",
            Phase::Waiting => "waiting",
            Phase::Ended => "ended",
        }
    }
}

/// How a process ended, as far as it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitStatus {
    /// It exited with this code (known to its parent only).
    Code(i32),
    /// A signal killed it (known to its parent only).
    Signal(i32),
    /// It is gone, but how it ended is not known: it was seen missing from the process table,
    /// or its PID now belongs to a process with another start time.
    Gone,
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
            ExitStatus::Gone => f.write_str("no longer running"),
        }
    }
}

/// The last known fact about the session's process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "process", rename_all = "kebab-case")]
pub enum ProcessFact {
    /// Nobody who can see the process has looked (no watcher on its host, or no PID known).
    #[default]
    Unknown,
    /// Seen running, with the recorded start time, at `checked_at`.
    Alive {
        /// When it was last seen running.
        checked_at: Timestamp,
    },
    /// Known to have ended.
    Exited {
        /// How it ended.
        status: ExitStatus,
        /// When the end was observed.
        at: Timestamp,
    },
}

/// Where a signal came from. Each source keeps its own last time on the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `coord register` / `coord heartbeat` / `coord unregister` on the command line.
    Cli,
    /// An agent hook (`coord heartbeat --hook`, `coord hook`).
    Hook,
    /// A process watcher that holds the session's process (a pidfd: it knows the moment the
    /// process ends).
    Watch,
    /// A process watcher that looks the process up every 50 ms, where pidfds are not available.
    Poll,
    /// A coord command on the session's host that looked the process up in the process table.
    Probe,
    /// A program calling the JSON-RPC API.
    Api,
    /// The agent's own status file (Claude Code's `sessions/<pid>.json`), read on its host.
    Status,
}

impl Source {
    /// The kebab-case name used in JSON and in `coord show`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::Hook => "hook",
            Source::Watch => "watch",
            Source::Poll => "poll",
            Source::Probe => "probe",
            Source::Api => "api",
            Source::Status => "status",
        }
    }
}

/// The label of a session that is coord itself (`coord serve`'s own, valued `serve`): it may
/// lead and sweep, and is never handed a task.
pub const ROLE_LABEL: &str = "coord.role";

/// One session of the fleet, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Stable key: the agent's own session id, or `<host>-<pid>`, or given by the user.
    pub id: String,
    /// The session this one works for (a subagent's parent), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Increases each time the same id registers afresh; a late call of an older incarnation
    /// is recognised as such.
    pub incarnation: u64,
    /// Increases on every stored change; a compare-and-set guard for eviction.
    pub revision: u64,
    /// Host name of the machine the process runs on.
    pub host: String,
    /// The process that proves the session lives, when known.
    pub pid: Option<u32>,
    /// The process start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot), so that
    /// a recycled PID is never taken for the old process.
    pub pid_start: Option<u64>,
    /// The host's boot id when `pid_start` was read (start times only compare within one boot).
    pub boot_id: Option<String>,
    /// The kind of agent.
    pub runtime: Runtime,
    /// The human label of what it works on.
    pub task: String,
    /// Where it runs.
    pub cwd: Option<String>,
    /// Free `key=value` labels.
    pub labels: BTreeMap<String, String>,
    /// When this incarnation registered.
    pub registered_at: Timestamp,
    /// The last signal of any kind.
    pub last_seen: Timestamp,
    /// The last activity: a tool call began or ended, a heartbeat said it works.
    pub last_activity: Option<Timestamp>,
    /// The last sign of progress: activity, progress details, growth of the log.
    pub last_progress: Option<Timestamp>,
    /// What the agent last said it is doing.
    pub phase: Phase,
    /// When the source observed the phase; an older observation never overrides a newer one.
    pub phase_at: Timestamp,
    /// The last known fact about the process.
    pub process: ProcessFact,
    /// A file whose modification time is a passive signal (tmux log, agent transcript).
    pub log_path: Option<String>,
    /// The last modification time seen on `log_path`.
    pub log_mtime: Option<Timestamp>,
    /// How many activity heartbeats this incarnation has sent (proofs of life from a watcher
    /// or a probe are not counted).
    pub beats: u64,
    /// The last progress details the session reported (free JSON).
    pub progress: Option<serde_json::Value>,
    /// The last time each source was heard from.
    pub signals: BTreeMap<Source, Timestamp>,
    /// Limits set for this session alone.
    pub policy: PolicyOverrides,
}

impl Session {
    /// Whether work may be handed to it: a session of its own (not a subagent) that is not coord
    /// itself ([`ROLE_LABEL`]).
    #[must_use]
    pub fn takes_tasks(&self) -> bool {
        self.parent.is_none() && !self.labels.contains_key(ROLE_LABEL)
    }

    /// The last sign of progress, counting the log file and registration itself.
    #[must_use]
    pub fn progress_at(&self) -> Timestamp {
        [self.last_progress, self.last_activity, self.log_mtime]
            .into_iter()
            .flatten()
            .fold(self.registered_at, Timestamp::max)
    }

    /// `host:pid`, or the host alone when no PID is known.
    #[must_use]
    pub fn location(&self) -> String {
        match self.pid {
            Some(pid) => format!("{}:{pid}", self.host),
            None => self.host.clone(),
        }
    }
}
