//! The fleet as people and scripts see it: every session with its verdict.

use std::collections::HashMap;

use coord_core::{Event, HostHeard, Session, TaskState, Timestamp, Verdict, classify};

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
        let tasks = self.tasks()?;
        let leader = self.leadership()?.leader.map(|(s, _)| s);
        for e in &mut fleet.entries {
            e.claims = tasks
                .iter()
                .filter(|t| matches!(&t.state, TaskState::Claimed { session, .. } if *session == e.session.id))
                .map(|t| t.id.clone())
                .collect();
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
        let mut hosts = HostsHeard::default();
        let mut entries = Vec::with_capacity(sessions.len());
        for s in sessions {
            let host = hosts.of(self, &s, now)?;
            entries.push(Entry {
                verdict: classify(&s, host, &self.policy, now),
                session: s,
                claims: Vec::new(),
                leads: false,
            });
        }
        Ok(Fleet { now, entries })
    }

    /// One session, observed and classified, with its latest events.
    pub fn report(&self, id: &str) -> Result<Option<Report>> {
        let now = self.store.now()?;
        let Some(mut session) = self.store.session(id)? else {
            return Ok(None);
        };
        self.observe(&mut session, now)?;
        let host = HostsHeard::default().of(self, &session, now)?;
        let verdict = classify(&session, host, &self.policy, now);
        let events = self.store.session_events(id, REPORT_EVENTS)?;
        let claims = self
            .tasks()?
            .into_iter()
            .filter(
                |t| matches!(&t.state, TaskState::Claimed { session: s, .. } if *s == session.id),
            )
            .map(|t| t.id)
            .collect();
        let leads = self.leadership()?.is(&session.id);
        Ok(Some(Report {
            entry: Entry {
                session,
                verdict,
                claims,
                leads,
            },
            events,
            now,
        }))
    }
}

/// What is known of the hosts of the sessions being judged, each asked of the store once.
#[derive(Default)]
pub(crate) struct HostsHeard(HashMap<String, Option<HostHeard>>);

impl HostsHeard {
    /// What is known of `session`'s host: for this host (the caller runs here), heard now,
    /// without a gap since the store last saw one; else what the store says.
    pub(crate) fn of(
        &mut self,
        service: &Service,
        session: &Session,
        now: Timestamp,
    ) -> Result<Option<HostHeard>> {
        let stored = if let Some(h) = self.0.get(&session.host) {
            *h
        } else {
            let h = service.store.host_heard(&session.host)?;
            self.0.insert(session.host.clone(), h);
            h
        };
        Ok(if session.host == service.host.name {
            Some(HostHeard {
                last: now,
                since: stored.map_or(now, |h| h.since),
            })
        } else {
            stored
        })
    }
}
