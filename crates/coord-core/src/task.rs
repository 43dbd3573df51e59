//! Work that survives the death of whoever holds it: the task, its claim, and the fencing
//! token that makes a zombie harmless.
//!
//! A task is `pending`, `claimed` by one session (with a lease and a fencing token), `done` or
//! `failed`: one spelling of each, everywhere. Every claim gets a token from a counter that only
//! grows (the store keeps it, per namespace); progress, completion, failure and release need
//! the current one, so a holder that was declared dead and comes back (a zombie) is refused
//! once its work was handed on. When a holder is evicted or its lease lapses, the task goes
//! back to `pending` with one more attempt (to `failed` after `max_attempts`), and is not
//! handed out again before a short lock-delay, so an in-flight write of the old holder lands
//! on a refused token rather than racing the new one.
//!
//! As in [`crate::signal`], these are the rules; backends apply them atomically.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::EventKind;
use crate::time::Timestamp;

/// The reserved task whose claim is the leader lease: its fencing token is the leader's term,
/// and it changes hands by the same rules as any work (a lapsed or evicted holder loses it).
pub const LEADER_TASK: &str = "coord:leader";

/// What the ids of coord's own tasks start with: no claim of "the next task" takes one.
pub const RESERVED_PREFIX: &str = "coord:";

/// How many attempts a task gets by default before it is quarantined as failed.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// How many history entries a task keeps.
pub const HISTORY_LEN: usize = 32;

/// Where a task stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum TaskState {
    /// Waiting for a session to claim it.
    Pending,
    /// Held by one session.
    Claimed {
        /// The holder.
        session: String,
        /// The fencing token of this claim.
        token: u64,
        /// When the claim lapses unless renewed.
        lease_until: Timestamp,
    },
    /// Finished by a holder.
    Done {
        /// Who finished it.
        session: String,
    },
    /// Given up: by its holder, or after `max_attempts` holders were lost.
    Failed {
        /// Why.
        reason: String,
    },
}

impl TaskState {
    /// The state's name: `pending`, `claimed`, `done`, `failed`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Claimed { .. } => "claimed",
            TaskState::Done { .. } => "done",
            TaskState::Failed { .. } => "failed",
        }
    }
}

/// One line of a task's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When.
    pub at: Timestamp,
    /// What happened, in words.
    pub what: String,
}

/// A unit of work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its id.
    pub id: String,
    /// What is to be done.
    pub title: String,
    /// Labels a session must carry to be handed the task (`team=infra`).
    pub labels: BTreeMap<String, String>,
    /// Where it stands.
    #[serde(flatten)]
    pub state: TaskState,
    /// How many holders it has lost.
    pub attempts: u32,
    /// After this many lost holders it is failed.
    pub max_attempts: u32,
    /// The last progress details a holder reported, handed to the next holder.
    pub progress: Option<serde_json::Value>,
    /// Not handed out before this time (the lock-delay after a release by the sweep).
    pub not_before: Option<Timestamp>,
    /// When it was added.
    pub created_at: Timestamp,
    /// Its last change.
    pub updated_at: Timestamp,
    /// Increases on every change.
    pub revision: u64,
    /// What happened to it, most recent last (bounded).
    pub history: Vec<HistoryEntry>,
}

/// A task to add.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewTask {
    /// Its id.
    pub id: String,
    /// What is to be done.
    pub title: String,
    /// Labels a session must carry to be handed it.
    pub labels: BTreeMap<String, String>,
    /// Attempts before it is failed; default [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: Option<u32>,
}

/// Why a task operation was refused. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The token is not the current claim's: the caller's claim was handed on (or never was).
    #[error("stale fencing token {given} for task `{task}`{}", current.map_or(String::from(": it is not claimed"), |c| format!(" (the current claim has token {c})")))]
    StaleToken {
        /// The task.
        task: String,
        /// The token given.
        given: u64,
        /// The current claim's token, if it is claimed.
        current: Option<u64>,
    },
    /// The task cannot be claimed now.
    #[error("task `{task}` is {state}, not pending")]
    NotPending {
        /// The task.
        task: String,
        /// Its state's name.
        state: &'static str,
    },
    /// The task is held back by its lock-delay.
    #[error("task `{task}` was just released and cannot be claimed before {until:?}")]
    Delayed {
        /// The task.
        task: String,
        /// When it can be.
        until: Timestamp,
    },
}

impl Task {
    /// A new pending task.
    #[must_use]
    pub fn new(spec: &NewTask, now: Timestamp) -> Task {
        Task {
            id: spec.id.clone(),
            title: spec.title.clone(),
            labels: spec.labels.clone(),
            state: TaskState::Pending,
            attempts: 0,
            max_attempts: spec.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1),
            progress: None,
            not_before: None,
            created_at: now,
            updated_at: now,
            revision: 1,
            history: vec![HistoryEntry {
                at: now,
                what: "added".to_owned(),
            }],
        }
    }

    /// Whether `session`, carrying `labels`, may be handed this task: every label of the task
    /// is among the session's.
    #[must_use]
    pub fn fits(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// Whether it can be claimed at `now`.
    #[must_use]
    pub fn claimable(&self, now: Timestamp) -> bool {
        self.claimable_now(now).is_ok()
    }

    /// When it finished (done or failed): the time the sweep counts its retirement from.
    /// Stores index finished tasks by it, and every other task as open.
    #[must_use]
    pub fn finished_at(&self) -> Option<Timestamp> {
        matches!(
            self.state,
            TaskState::Done { .. } | TaskState::Failed { .. }
        )
        .then_some(self.updated_at)
    }

    /// Whether it waits in the queue for whoever claims the next task: pending, and not one of
    /// coord's own ([`RESERVED_PREFIX`]). Stores index the tasks that wait, oldest first.
    #[must_use]
    pub fn waits(&self) -> bool {
        self.state == TaskState::Pending && !self.id.starts_with(RESERVED_PREFIX)
    }

    /// Whether a claim of the next task by a session carrying `labels` takes it at `now`.
    #[must_use]
    pub fn next_for(&self, labels: &BTreeMap<String, String>, now: Timestamp) -> bool {
        self.waits() && self.claimable(now) && self.fits(labels)
    }

    /// Why it cannot be claimed at `now`, if it cannot: checked before a token is taken for it.
    pub fn claimable_now(&self, now: Timestamp) -> Result<(), TaskError> {
        if self.state != TaskState::Pending {
            return Err(TaskError::NotPending {
                task: self.id.clone(),
                state: self.state.name(),
            });
        }
        if let Some(until) = self.not_before.filter(|t| *t > now) {
            return Err(TaskError::Delayed {
                task: self.id.clone(),
                until,
            });
        }
        Ok(())
    }

    /// The event a claim of it with `token` logs: the leader's new term for the leader task.
    #[must_use]
    pub fn claimed_event(&self, token: u64) -> EventKind {
        if self.id == LEADER_TASK {
            EventKind::Leader { term: token }
        } else {
            EventKind::Claimed {
                task: self.id.clone(),
                token,
            }
        }
    }

    /// Claims it for `session` with `token` (the store's next) for `lease`.
    pub fn claim(
        &mut self,
        session: &str,
        token: u64,
        lease: Duration,
        now: Timestamp,
    ) -> Result<(), TaskError> {
        self.claimable_now(now)?;
        self.state = TaskState::Claimed {
            session: session.to_owned(),
            token,
            lease_until: now.plus(lease),
        };
        self.not_before = None;
        self.record(now, format!("claimed by {session} (token {token})"));
        Ok(())
    }

    /// The holder and lease of the claim `token` names; refused unless it is the current one.
    pub fn check(&self, token: u64) -> Result<(&str, Timestamp), TaskError> {
        match &self.state {
            TaskState::Claimed {
                session,
                token: current,
                lease_until,
            } if *current == token => Ok((session, *lease_until)),
            TaskState::Claimed { token: current, .. } => Err(self.stale(token, Some(*current))),
            _ => Err(self.stale(token, None)),
        }
    }

    /// Records progress under the current claim, and renews its lease for `lease`.
    pub fn progress(
        &mut self,
        token: u64,
        details: Option<serde_json::Value>,
        lease: Duration,
        now: Timestamp,
    ) -> Result<(), TaskError> {
        let session = self.check(token)?.0.to_owned();
        if let Some(details) = details {
            self.progress = Some(details);
        }
        self.state = TaskState::Claimed {
            session,
            token,
            lease_until: now.plus(lease),
        };
        self.touch(now);
        Ok(())
    }

    /// Finishes it under the current claim.
    pub fn complete(&mut self, token: u64, now: Timestamp) -> Result<(), TaskError> {
        let session = self.check(token)?.0.to_owned();
        self.record(now, format!("done by {session} (token {token})"));
        self.state = TaskState::Done { session };
        Ok(())
    }

    /// Gives it up under the current claim: failed, with the reason.
    pub fn fail(&mut self, token: u64, reason: &str, now: Timestamp) -> Result<(), TaskError> {
        let session = self.check(token)?.0.to_owned();
        self.record(
            now,
            format!("failed by {session} (token {token}): {reason}"),
        );
        self.state = TaskState::Failed {
            reason: reason.to_owned(),
        };
        Ok(())
    }

    /// Gives it back under the current claim: pending again, no attempt lost.
    pub fn release(&mut self, token: u64, now: Timestamp) -> Result<(), TaskError> {
        let session = self.check(token)?.0.to_owned();
        self.record(now, format!("released by {session} (token {token})"));
        self.state = TaskState::Pending;
        Ok(())
    }

    /// Takes it back from a holder that was lost (`why`: evicted, lease lapsed): one more
    /// attempt, then pending after `lock_delay`, or failed once `max_attempts` holders were
    /// lost. Does nothing unless it is claimed.
    pub fn reclaim(&mut self, why: &str, lock_delay: Duration, now: Timestamp) -> bool {
        let TaskState::Claimed { session, token, .. } = &self.state else {
            return false;
        };
        let (session, token) = (session.clone(), *token);
        self.attempts += 1;
        if self.attempts >= self.max_attempts {
            let reason = format!(
                "{} holders lost, the last {session} (token {token}): {why}",
                self.attempts
            );
            self.record(now, format!("failed: {reason}"));
            self.state = TaskState::Failed { reason };
        } else {
            self.record(
                now,
                format!("taken back from {session} (token {token}): {why}"),
            );
            self.state = TaskState::Pending;
            self.not_before = Some(now.plus(lock_delay));
        }
        true
    }

    /// Whether its claim's lease lapsed at `now`.
    #[must_use]
    pub fn lease_lapsed(&self, now: Timestamp) -> bool {
        matches!(self.state, TaskState::Claimed { lease_until, .. } if lease_until <= now)
    }

    fn stale(&self, given: u64, current: Option<u64>) -> TaskError {
        TaskError::StaleToken {
            task: self.id.clone(),
            given,
            current,
        }
    }

    fn touch(&mut self, now: Timestamp) {
        self.updated_at = self.updated_at.max(now);
        self.revision += 1;
    }

    fn record(&mut self, now: Timestamp, what: String) {
        self.touch(now);
        self.history.push(HistoryEntry { at: now, what });
        if self.history.len() > HISTORY_LEN {
            self.history.remove(1);
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.id, self.state.name(), self.title)
    }
}

#[cfg(test)]
mod tests;
