//! The fleet as people and scripts see it: every session with its verdict.

use coord_core::{
    Event, HostHeard, HostVerdict, Hosts, LEADER_TASK, Session, Task, TaskState, Timestamp,
    Verdict, classify,
};

use crate::{PASSING_SWEEP_LIMIT, Result, Service};

/// One session and what coord concludes about it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The record, with what this host observed of it.
    pub session: Session,
    /// Its state and why.
    pub verdict: Verdict,
    /// The tasks it holds.
    pub claims: Vec<String>,
    /// Whether it holds the leader lease.
    pub leads: bool,
}

/// The whole fleet at one moment.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// The store's time when it was judged.
    pub now: Timestamp,
    /// Every session, ordered by id.
    pub entries: Vec<Entry>,
}

/// One session in detail: its entry and its latest events.
#[derive(Clone, Debug)]
pub struct Report {
    /// The session and its verdict.
    pub entry: Entry,
    /// Its latest events, oldest first.
    pub events: Vec<Event>,
    /// What the store heard of its host, and the host's state: the evidence of rules 3 and 4.
    pub host: (Option<HostHeard>, HostVerdict),
    /// The store's time when it was judged.
    pub now: Timestamp,
}

/// How many events `coord show` lists.
const REPORT_EVENTS: usize = 20;

impl Service {
    /// Every session, observed from this host and classified; evicts what is due in passing.
    pub fn fleet(&self) -> Result<Fleet> {
        self.discover()?;
        self.sweep(PASSING_SWEEP_LIMIT)?;
        let mut fleet = self.judge_all()?;
        let claims = self.claims()?;
        let leader = self.leadership()?.leader.map(|(s, _)| s);
        for e in &mut fleet.entries {
            e.claims = held_by(&claims, &e.session.id);
            e.leads = leader.as_deref() == Some(e.session.id.as_str());
        }
        Ok(fleet)
    }

    /// Every session, observed from this host and classified, without sweeping first.
    pub(crate) fn judge_all(&self) -> Result<Fleet> {
        let now = self.store.now()?;
        let mut sessions = self.store.sessions()?;
        for s in &mut sessions {
            self.observe(s, now)?;
        }
        let hosts = self.hosts_heard()?;
        let mut entries = Vec::with_capacity(sessions.len());
        for s in sessions {
            entries.push(Entry {
                verdict: classify(&s, &hosts, &self.policy, now),
                session: s,
                claims: Vec::new(),
                leads: false,
            });
        }
        Ok(Fleet { now, entries })
    }

    /// Every host of the namespace as the store heard it, judged from this host (which is
    /// heard now, by the fact of this code running here).
    pub fn hosts_heard(&self) -> Result<Hosts> {
        let hosts = Hosts::new(self.store.hosts()?, Some(self.host.name.clone()))
            .recorded_with_gap(self.store.host_gap()?);
        Ok(if self.beside_the_store {
            hosts.beside_the_store()
        } else {
            hosts
        })
    }

    /// One session, observed and classified, with its latest events.
    pub fn report(&self, id: &str) -> Result<Option<Report>> {
        let now = self.store.now()?;
        let Some(mut session) = self.store.session(id)? else {
            return Ok(None);
        };
        self.observe(&mut session, now)?;
        let hosts = self.hosts_heard()?;
        let verdict = classify(&session, &hosts, &self.policy, now);
        let host = (
            hosts.stored(&session.host).copied(),
            hosts.judge(&session.host, &self.policy.with(&session.policy), now),
        );
        let events = self.store.session_events(id, REPORT_EVENTS)?;
        let claims = held_by(&self.claims()?, &session.id);
        let leads = self.leadership()?.is(&session.id);
        Ok(Some(Report {
            entry: Entry {
                session,
                verdict,
                claims,
                leads,
            },
            events,
            host,
            now,
        }))
    }
}

/// The ids of the tasks among `claims` that `session` holds, the leader lease left out.
fn held_by(claims: &[Task], session: &str) -> Vec<String> {
    claims
        .iter()
        .filter(|t| {
            t.id != LEADER_TASK
                && matches!(&t.state, TaskState::Claimed { session: s, .. } if s == session)
        })
        .map(|t| t.id.clone())
        .collect()
}
