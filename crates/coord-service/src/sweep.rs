//! The sweep: find the sessions that are dead (or ended) past the grace period and evict them.
//!
//! It reads only the sessions silent for longer than `evict_grace` (an index scan, so its cost
//! grows with the number expired, not with the fleet), observes the local ones (a process
//! found running renews them, which takes them out of the next scan), judges each with
//! [`classify()`](coord_core::classify) and evicts with a compare-and-set on the revision it
//! judged, so a session that signalled meanwhile is never evicted. The tasks an evicted
//! session held go back to the queue (after the lock-delay), and so do claims whose lease
//! lapsed or whose holder is gone. A host found lost, or heard again after it was, is noted
//! first (an event each). Tasks finished longer ago than the namespace keeps them
//! ([`coord_core::Policy::task_keep`]) go last, as many as sessions may be examined.
//! [`Service::check_health`] then hands the leader lease on if its holder was lost.

use coord_core::classify;

use crate::leader::DEFAULT_LEADER_LEASE;
use crate::observe::Observed;
use crate::{Result, Service};

/// A task a sweep took back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    /// The task.
    pub task: String,
    /// The session that held it.
    pub holder: String,
    /// Why it was taken back.
    pub why: String,
}

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// How many quiet sessions it looked at.
    pub examined: usize,
    /// Sessions whose process it found gone (their exit is now recorded).
    pub exited: Vec<String>,
    /// Sessions it evicted, with the reason.
    pub evicted: Vec<(String, String)>,
    /// Tasks it took back (from evicted holders, lapsed claims, vanished holders).
    pub released: Vec<Released>,
    /// How many finished tasks it removed, past the time the namespace keeps them.
    pub retired: usize,
    /// Hosts it noted, with what each became (`lost`, `rejoined`, `awake`).
    pub hosts: Vec<(String, String)>,
    /// The session that leads after the sweep, if any.
    pub leader: Option<String>,
}

impl Service {
    /// Sweeps at most `limit` quiet sessions.
    pub fn sweep(&self, limit: usize) -> Result<SweepReport> {
        let now = self.store.now()?;
        let grace = self.policy.evict_grace;
        let mut report = SweepReport::default();
        let hosts = self.hosts_heard()?;
        report.hosts = self.note_hosts(&hosts, now)?;
        for mut s in self.store.quiet_since(now.minus(grace), limit)? {
            report.examined += 1;
            if self.observe(&mut s, now)? == Observed::Exited {
                report.exited.push(s.id.clone());
            }
            let verdict = classify(&s, &hosts, &self.policy, now);
            if verdict.state.is_evictable() && now.since(verdict.since) >= grace {
                let reason = format!("{}: {}", verdict.state, verdict.reason);
                if self.store.evict(&s.id, s.revision, &reason)? {
                    let why = format!("{} was evicted ({reason})", s.id);
                    for task in self.reclaim_from(&s.id, &why, self.policy.lock_delay)? {
                        report.released.push(Released {
                            task,
                            holder: s.id.clone(),
                            why: why.clone(),
                        });
                    }
                    report.evicted.push((s.id, reason));
                }
            }
        }
        report
            .released
            .extend(self.reclaim_stale_claims(now, self.policy.lock_delay)?);
        report.retired = self.retire_finished(now, limit)?;
        Ok(report)
    }

    /// `check_health`: a sweep, then, if the fleet uses a leader and nobody holds the lease,
    /// the lease goes to the longest-registered live session. What `coord sweep` and the
    /// server's schedule run; the sweeps other commands make in passing do not elect.
    pub fn check_health(&self, limit: usize) -> Result<SweepReport> {
        let mut report = self.sweep(limit)?;
        report.leader = self.elect(DEFAULT_LEADER_LEASE)?.leader.map(|(s, _)| s);
        Ok(report)
    }
}
