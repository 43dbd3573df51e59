//! Many calls' changes at once: heartbeats (renewals, answered with the session's counters),
//! claims and holders' changes of tasks, each applied
//! by the same rules as alone (the single calls are batches of one), with the store's reads
//! and writes of the whole batch sent together ([`coord_store::Store::renewals`] and its
//! kin: one round trip each to a store behind a network, where a batch of a hundred calls
//! would otherwise wait for a hundred).
//!
//! Each call keeps its own result and its own atomic step in the store; a batch only saves
//! the waiting. A holder's change that loses a race to a concurrent one is tried again on its
//! own.

use std::time::Duration;

use coord_core::{Beat, Phase, ProcessFact, Session, Task};
use coord_store::{ClaimOutcome, ClaimRequest, Renewal, StoreError, TaskPut};

use crate::tasks::{Changed, TaskOp, changed};
use crate::{Result, Service, ServiceError};

/// A claim of the work queue: `task`, or the oldest waiting one whose labels the session
/// carries, for `session`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The claiming session: registered and alive.
    pub session: String,
    /// The task to claim; `None`: the next that fits.
    pub task: Option<String>,
    /// How long the claim holds without progress.
    pub lease: Duration,
}

/// A holder's change of `task` under its claim's `token`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The task.
    pub task: String,
    /// The holder's fencing token.
    pub token: u64,
    /// The change.
    pub op: TaskOp,
}

impl Service {
    /// Applies heartbeats, each as [`Service::heartbeat`] does, in order.
    #[must_use]
    pub fn heartbeats(&self, beats: &[(&str, &Beat)]) -> Vec<Result<Renewal>> {
        pad(self.store.renewals(beats), beats.len())
            .zip(beats)
            .map(|(stored, (id, beat))| {
                let session =
                    stored?.ok_or_else(|| ServiceError::NotRegistered((*id).to_owned()))?;
                if let Some(details) = &beat.progress {
                    self.progress_held_tasks(id, details)?;
                }
                Ok(session)
            })
            .collect()
    }

    /// Makes claims, each as [`Service::task_claim`] does, in order: the claimants are read
    /// together, then the claims are made together, each one atomic step of the store.
    #[must_use]
    pub fn task_claims(&self, claims: &[Claim]) -> Vec<Result<Task>> {
        let ids: Vec<&str> = claims.iter().map(|c| c.session.as_str()).collect();
        let holders: Vec<Result<Session>> = pad(self.store.sessions_named(&ids), ids.len())
            .zip(&ids)
            .map(|(read, id)| {
                read?
                    .filter(|s| {
                        s.phase != Phase::Ended && !matches!(s.process, ProcessFact::Exited { .. })
                    })
                    .ok_or_else(|| ServiceError::NotRegistered((*id).to_owned()))
            })
            .collect();
        let requests: Vec<ClaimRequest> = claims
            .iter()
            .zip(&holders)
            .filter_map(|(claim, holder)| {
                let holder = holder.as_ref().ok()?;
                Some(ClaimRequest {
                    session: &claim.session,
                    incarnation: holder.incarnation,
                    labels: &holder.labels,
                    task: claim.task.as_deref(),
                    lease: claim.lease,
                })
            })
            .collect();
        let mut outcomes = self.store.claim_tasks(&requests).into_iter();
        claims
            .iter()
            .zip(holders)
            .map(|(claim, holder)| {
                holder?;
                let outcome = outcomes.next().unwrap_or_else(|| Err(unanswered()))?;
                match outcome {
                    ClaimOutcome::Claimed(t) => Ok(*t),
                    ClaimOutcome::NoSuchTask => Err(ServiceError::NoSuchTask(
                        claim.task.clone().unwrap_or_default(),
                    )),
                    ClaimOutcome::Refused(e) => Err(e.into()),
                    ClaimOutcome::NothingWaits => {
                        Err(ServiceError::NothingToClaim(claim.session.clone()))
                    }
                }
            })
            .collect()
    }

    /// Applies holders' changes, each as [`Service::task_update`] does, in order: the tasks
    /// are read together at one time of the store's clock, then swapped in together; a change
    /// whose task changed meanwhile (another of the batch's, or someone else's) is tried again
    /// on its own.
    #[must_use]
    pub fn task_updates(&self, updates: &[Update]) -> Vec<Result<Task>> {
        let Ok(now) = self.store.now() else {
            // Each tries alone, and fails with its own error.
            return updates.iter().map(|u| self.update(u)).collect();
        };
        let ids: Vec<&str> = updates.iter().map(|u| u.task.as_str()).collect();
        let changes: Vec<Result<Changed>> = pad(self.store.tasks_named(&ids), ids.len())
            .zip(updates)
            .map(|(read, u)| {
                let t = read?.ok_or_else(|| ServiceError::NoSuchTask(u.task.clone()))?;
                changed(t, u.token, &u.op, now)
            })
            .collect();
        let puts: Vec<TaskPut> = changes
            .iter()
            .flatten()
            .map(|c| TaskPut {
                task: &c.task,
                expected: Some(c.expected),
                events: &c.events,
            })
            .collect();
        let mut stored = self.store.put_tasks(&puts).into_iter();
        changes
            .into_iter()
            .zip(updates)
            .map(|(change, u)| {
                let change = change?;
                if stored.next().unwrap_or_else(|| Err(unanswered()))? {
                    Ok(change.task)
                } else {
                    self.update(u)
                }
            })
            .collect()
    }

    fn update(&self, u: &Update) -> Result<Task> {
        self.task_update(&u.task, u.token, &u.op)
    }
}

/// A store's `n` answers to `n` calls, each as given, or as missing should there be fewer.
fn pad<T>(
    answers: Vec<coord_store::Result<T>>,
    n: usize,
) -> impl Iterator<Item = coord_store::Result<T>> {
    answers
        .into_iter()
        .chain(std::iter::repeat_with(|| Err(unanswered())))
        .take(n)
}

/// The one result of a batch of one.
pub(crate) fn one<T>(results: Vec<Result<T>>) -> Result<T> {
    results
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(unanswered().into()))
}

/// A store that answered fewer calls than it was given (a bug of the backend).
fn unanswered() -> StoreError {
    StoreError::Corrupt("the store answered fewer calls than it was given".to_owned())
}
