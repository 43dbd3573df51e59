//! The work queue: adding, claiming and finishing tasks, and taking back the work of sessions
//! that were lost.
//!
//! A claim is one atomic step of the store ([`coord_store::Store::claim_task`]: the pick, the
//! token, the core's rule and the event together), so no claim loses a race and no token is
//! taken for nothing. Every other change reads the task, applies the core's rule
//! ([`coord_core::task`]) with the store's clock and swaps it in by compare-and-set; a swap
//! that loses to a concurrent change is tried again on the fresh task. Tokens come from the
//! store's counter, so a token is never handed out twice and tokens only grow.

use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::{EventKind, NewTask, Task, TaskError, TaskState, Timestamp};
use coord_store::TaskEvent;

use crate::batch::Claim;
use crate::sweep::Released;
use crate::{Result, Service, ServiceError};

/// How long a claim holds without progress, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30 * 60);

pub use coord_core::LEADER_TASK;

/// How often a change that lost a race is tried again.
const RETRIES: usize = 16;

/// How many finished tasks a listing shows beside the open ones (all of them with `all`).
pub const FINISHED_SHOWN: usize = 20;

/// A change a holder makes under its claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskOp {
    /// Progress details (kept for whoever takes over), renewing the lease.
    Progress(Option<serde_json::Value>, Duration),
    /// Finished.
    Complete,
    /// Given up, with the reason.
    Fail(String),
    /// Given back to the queue.
    Release,
}

impl Service {
    /// Adds a task; its id defaults to `t-<n>`.
    pub fn task_add(&self, mut spec: NewTask) -> Result<Task> {
        if spec.id.is_empty() {
            spec.id = format!("t-{}", self.store.next_token()?);
        }
        if spec.id.starts_with(coord_core::RESERVED_PREFIX) {
            return Err(ServiceError::ReservedTask(spec.id));
        }
        let task = Task::new(&spec, self.store.now()?);
        if self.store.put_task(&task, None, &[])? {
            Ok(task)
        } else {
            Err(ServiceError::TaskExists(spec.id))
        }
    }

    /// One task.
    pub fn task(&self, id: &str) -> Result<Task> {
        self.store
            .task(id)?
            .ok_or_else(|| ServiceError::NoSuchTask(id.to_owned()))
    }

    /// The tasks a listing shows, oldest first (not the reserved leader task): the open ones
    /// (waiting or claimed) and the last [`FINISHED_SHOWN`] finished, or with `all` every task
    /// kept.
    pub fn tasks(&self, all: bool) -> Result<Vec<Task>> {
        let mut tasks = if all {
            self.store.tasks()?
        } else {
            let mut tasks = self.store.open_tasks()?;
            tasks.extend(self.store.finished_tasks(FINISHED_SHOWN)?);
            tasks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            tasks
        };
        tasks.retain(|t| t.id != LEADER_TASK);
        Ok(tasks)
    }

    /// The tasks claimed, read through the store's index of open tasks (the leader lease
    /// among them).
    pub(crate) fn claims(&self) -> Result<Vec<Task>> {
        let mut tasks = self.store.open_tasks()?;
        tasks.retain(|t| matches!(t.state, TaskState::Claimed { .. }));
        Ok(tasks)
    }

    /// Removes the tasks finished longer ago than the namespace keeps them
    /// ([`coord_core::Policy::task_keep`]), at most `limit` of them. Returns how many went.
    pub(crate) fn retire_finished(&self, now: Timestamp, limit: usize) -> Result<usize> {
        Ok(self
            .store
            .retire_tasks(now.minus(self.policy.task_keep), limit)?)
    }

    /// Claims `task` (or the oldest pending task whose labels the session carries) for
    /// `session`, which must be registered and alive. The claim comes with a new fencing token
    /// and the progress the last holder left.
    pub fn task_claim(&self, session: &str, task: Option<&str>, lease: Duration) -> Result<Task> {
        let claim = Claim {
            session: session.to_owned(),
            task: task.map(str::to_owned),
            lease,
        };
        crate::batch::one(self.task_claims(std::slice::from_ref(&claim)))
    }

    /// Applies a holder's change under its claim (`token`); a stale token is refused and
    /// changes nothing.
    pub fn task_update(&self, id: &str, token: u64, op: &TaskOp) -> Result<Task> {
        for _ in 0..RETRIES {
            let t = self.task(id)?;
            let now = self.store.now()?;
            let change = changed(t, token, op, now)?;
            if self
                .store
                .put_task(&change.task, Some(change.expected), &change.events)?
            {
                return Ok(change.task);
            }
        }
        Err(ServiceError::Contended(id.to_owned()))
    }

    /// Keeps progress details a session sent with a heartbeat on every task it holds (renewing
    /// their leases), so that whoever takes the work over resumes it.
    pub(crate) fn progress_held_tasks(
        &self,
        session: &str,
        details: &serde_json::Value,
    ) -> Result<()> {
        for t in self.claims()? {
            if let TaskState::Claimed {
                session: holder,
                token,
                lease_until,
            } = &t.state
                && holder == session
                && t.id != LEADER_TASK
            {
                let lease = lease_until.since(t.updated_at).max(DEFAULT_LEASE);
                let op = TaskOp::Progress(Some(details.clone()), lease);
                match self.task_update(&t.id, *token, &op) {
                    Ok(_) | Err(ServiceError::Task(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Takes back every task `session` holds (it was evicted, or is gone): `why` says so in the
    /// tasks' history. Returns the ids.
    pub fn reclaim_from(
        &self,
        session: &str,
        why: &str,
        lock_delay: Duration,
    ) -> Result<Vec<String>> {
        let held: Vec<Task> = self
            .claims()?
            .into_iter()
            .filter(|t| matches!(&t.state, TaskState::Claimed { session: s, .. } if s == session))
            .collect();
        let mut taken = Vec::new();
        for t in held {
            let id = t.id.clone();
            if self.reclaim(t, why, lock_delay)? {
                taken.push(id);
            }
        }
        Ok(taken)
    }

    /// Takes back a claimed task if it is still the claim that was judged (same revision).
    pub(crate) fn reclaim(&self, mut t: Task, why: &str, lock_delay: Duration) -> Result<bool> {
        let TaskState::Claimed { session, .. } = &t.state else {
            return Ok(false);
        };
        let holder = session.clone();
        let expected = t.revision;
        if !t.reclaim(why, lock_delay, self.store.now()?) {
            return Ok(false);
        }
        let event = unclaimed(&holder, &t.id, &t.state, why);
        Ok(self.store.put_task(&t, Some(expected), &[event])?)
    }

    /// Hands the claimable tasks to live sessions whose labels fit, the least loaded first.
    /// Returns what went where.
    pub fn assign(&self, lease: Duration) -> Result<BTreeMap<String, String>> {
        let now = self.store.now()?;
        let mut tasks = self.store.open_tasks()?;
        tasks.retain(|t| t.id != LEADER_TASK);
        let mut load: BTreeMap<String, usize> = BTreeMap::new();
        for t in &tasks {
            if let TaskState::Claimed { session, .. } = &t.state {
                *load.entry(session.clone()).or_default() += 1;
            }
        }
        let fleet = self.judge_all()?;
        let live: Vec<_> = fleet
            .entries
            .iter()
            .filter(|e| e.verdict.state.takes_work() && e.session.takes_tasks())
            .map(|e| &e.session)
            .collect();
        let mut assigned = BTreeMap::new();
        for t in tasks.iter().filter(|t| t.claimable(now)) {
            let Some(to) = live
                .iter()
                .filter(|s| t.fits(&s.labels))
                .min_by_key(|s| (load.get(&s.id).copied().unwrap_or(0), s.registered_at))
            else {
                continue;
            };
            if self.task_claim(&to.id, Some(&t.id), lease).is_ok() {
                *load.entry(to.id.clone()).or_default() += 1;
                assigned.insert(t.id.clone(), to.id.clone());
            }
        }
        Ok(assigned)
    }

    /// Takes back tasks whose claim lapsed, or whose holder is no longer registered.
    pub(crate) fn reclaim_stale_claims(
        &self,
        now: Timestamp,
        lock_delay: Duration,
    ) -> Result<Vec<Released>> {
        let mut taken = Vec::new();
        for t in self.claims()? {
            let TaskState::Claimed {
                session,
                lease_until,
                ..
            } = &t.state
            else {
                continue;
            };
            let why = match self.store.session(session)? {
                None => format!("its holder {session} is gone"),
                // A lapsed claim goes back only once the holder's host was heard after the
                // lease ran out: a host that fell silent (a laptop asleep, a partition) keeps
                // its work until it is heard again, and the sweep has judged its sessions.
                Some(h)
                    if *lease_until <= now
                        && self
                            .store
                            .host_heard(&h.host)?
                            .is_some_and(|t| t.last > *lease_until) =>
                {
                    format!("the claim of {session} lapsed")
                }
                Some(_) => continue,
            };
            let released = Released {
                task: t.id.clone(),
                holder: session.clone(),
                why,
            };
            if self.reclaim(t, &released.why, lock_delay)? {
                taken.push(released);
            }
        }
        Ok(taken)
    }
}

/// The event of a task leaving its holder.
/// A task as a holder's change leaves it, to store by compare-and-set.
pub(crate) struct Changed {
    /// The task changed.
    pub task: Task,
    /// The revision it was read at.
    pub expected: u64,
    /// The events to log with it.
    pub events: Vec<TaskEvent>,
}

/// The task `t` after `op` by the holder of `token` at `now`, by the core's rules.
pub(crate) fn changed(mut t: Task, token: u64, op: &TaskOp, now: Timestamp) -> Result<Changed> {
    let expected = t.revision;
    let holder = t.check(token)?.0.to_owned();
    match op {
        TaskOp::Progress(details, lease) => {
            t.progress(token, details.clone(), *lease, now)?;
        }
        TaskOp::Complete => t.complete(token, now)?,
        TaskOp::Fail(reason) => t.fail(token, reason, now)?,
        TaskOp::Release => t.release(token, now)?,
    }
    let events = match (op, &t.state) {
        (TaskOp::Progress(..), _) => Vec::new(),
        (_, state) => vec![unclaimed(&holder, &t.id, state, op_words(op))],
    };
    Ok(Changed {
        task: t,
        expected,
        events,
    })
}

fn unclaimed(holder: &str, task: &str, state: &TaskState, why: &str) -> TaskEvent {
    TaskEvent {
        session: holder.to_owned(),
        incarnation: 0,
        kind: EventKind::Unclaimed {
            task: task.to_owned(),
            state: state.name().to_owned(),
            why: why.to_owned(),
        },
    }
}

fn op_words(op: &TaskOp) -> &str {
    match op {
        TaskOp::Progress(..) => "progress",
        TaskOp::Complete => "completed by its holder",
        TaskOp::Fail(reason) => reason,
        TaskOp::Release => "released by its holder",
    }
}

impl From<TaskError> for ServiceError {
    fn from(e: TaskError) -> Self {
        ServiceError::Task(e)
    }
}
