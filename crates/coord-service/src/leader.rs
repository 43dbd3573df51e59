//! The leader lease: at most one session leads a namespace (and, with a server, sweeps on a
//! schedule). The lease is the claim on a reserved task, so it follows the rules of any claim:
//! its fencing token is the leader's term and only grows, renewing it is reporting progress,
//! and a leader that is evicted or lets its lease lapse loses it to the next live session
//! (after the lock-delay, so an old leader cannot act on a lease it lost).

use std::time::Duration;

use coord_core::{NewTask, Task, TaskError, TaskState, Timestamp};

use crate::tasks::{LEADER_TASK, TaskOp};
use crate::{Result, Service, ServiceError};

/// How long a leader lease holds without renewal, by default.
pub const DEFAULT_LEADER_LEASE: Duration = Duration::from_secs(30);

/// Who leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// The leading session and its term, if any session leads.
    pub leader: Option<(String, u64)>,
}

impl Leadership {
    /// Who leads by the leader task `t` at `now`: its holder while the lease holds.
    #[must_use]
    pub fn of(t: &Task, now: Timestamp) -> Self {
        let leader = match &t.state {
            TaskState::Claimed {
                session,
                token,
                lease_until,
            } if *lease_until > now => Some((session.clone(), *token)),
            _ => None,
        };
        Self { leader }
    }

    /// Whether `session` leads.
    #[must_use]
    pub fn is(&self, session: &str) -> bool {
        self.leader.as_ref().is_some_and(|(s, _)| s == session)
    }
}

impl Service {
    /// Who leads now.
    pub fn leadership(&self) -> Result<Leadership> {
        let now = self.store.now()?;
        Ok(self
            .store
            .task(LEADER_TASK)?
            .map_or(Leadership { leader: None }, |t| Leadership::of(&t, now)))
    }

    /// Renews the lease if `session` leads, else takes it if nobody holds it: the answer to
    /// "am I the leader?" that a heartbeat gives.
    pub fn lead(&self, session: &str, lease: Duration) -> Result<Leadership> {
        self.lead_among(&[session], lease)
    }

    /// The same answer for many sessions at once (a batch of heartbeats), as if each asked in
    /// turn: the one of them that leads renews the lease; if nobody holds it, the first takes
    /// it. When nothing changes (the leader is elsewhere), it costs two reads whatever the
    /// number of sessions.
    pub fn lead_among(&self, sessions: &[&str], lease: Duration) -> Result<Leadership> {
        let t = self.leader_task()?;
        let now = self.store.now()?;
        let Some(first) = sessions.first() else {
            return Ok(Leadership::of(&t, now));
        };
        match &t.state {
            TaskState::Claimed {
                session: holder,
                token,
                ..
            } if sessions.contains(&holder.as_str()) => {
                match self.task_update(LEADER_TASK, *token, &TaskOp::Progress(None, lease)) {
                    Ok(renewed) => return Ok(Leadership::of(&renewed, now)),
                    Err(ServiceError::Task(TaskError::StaleToken { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
            TaskState::Claimed { .. } if t.lease_lapsed(now) => {
                self.reclaim(
                    t.clone(),
                    "the leader's lease lapsed",
                    self.policy.lock_delay,
                )?;
            }
            _ if t.claimable(now) => match self.task_claim(first, Some(LEADER_TASK), lease) {
                Ok(claimed) => return Ok(Leadership::of(&claimed, now)),
                Err(
                    ServiceError::Task(_)
                    | ServiceError::Contended(_)
                    | ServiceError::NotRegistered(_),
                ) => {}
                Err(e) => return Err(e),
            },
            _ => return Ok(Leadership::of(&t, now)),
        }
        self.leadership()
    }

    /// Hands the lease, if the fleet uses one and nobody holds it, to the longest-registered
    /// live session (not a subagent): what `check_health` does after a leader was lost.
    pub fn elect(&self, lease: Duration) -> Result<Leadership> {
        let Some(t) = self.store.task(LEADER_TASK)? else {
            return Ok(Leadership { leader: None });
        };
        if t.claimable(self.store.now()?) {
            let fleet = self.judge_all()?;
            let candidate = fleet
                .entries
                .iter()
                .filter(|e| e.verdict.state.is_live() && e.session.parent.is_none())
                .min_by_key(|e| (e.session.registered_at, e.session.id.clone()));
            if let Some(e) = candidate {
                return self.lead(&e.session.id, lease);
            }
        }
        self.leadership()
    }

    /// The reserved leader task, added on first use; it never fails for lost holders.
    fn leader_task(&self) -> Result<Task> {
        if let Some(t) = self.store.task(LEADER_TASK)? {
            return Ok(t);
        }
        let spec = NewTask {
            id: LEADER_TASK.to_owned(),
            title: "the leader lease".to_owned(),
            max_attempts: Some(u32::MAX),
            ..NewTask::default()
        };
        let t = Task::new(&spec, self.store.now()?);
        self.store.put_task(&t, None, &[])?;
        Ok(self.store.task(LEADER_TASK)?.unwrap_or(t))
    }
}
