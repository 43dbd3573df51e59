//! What can happen to a session, and how each signal changes its record.
//!
//! Backends that can run Rust inside their write transaction (the embedded store) read the
//! record, apply one of these functions and write it back, so the rules of registration,
//! heartbeats and exits live here once. Each function returns the events the change produces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::EventKind;
use crate::policy::PolicyOverrides;
use crate::session::{ExitStatus, Phase, ProcessFact, Runtime, Session, Source};
use crate::time::Timestamp;

/// A request to register (or re-register) a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The session id.
    pub id: String,
    /// The session this one works for (a subagent's parent), if any.
    pub parent: Option<String>,
    /// The host the process runs on.
    pub host: String,
    /// The process, when known.
    pub pid: Option<u32>,
    /// Its start time (see [`Session::pid_start`]).
    pub pid_start: Option<u64>,
    /// The host's boot id.
    pub boot_id: Option<String>,
    /// The kind of agent.
    pub runtime: Runtime,
    /// What it works on.
    pub task: String,
    /// Where it runs.
    pub cwd: Option<String>,
    /// Free labels.
    pub labels: BTreeMap<String, String>,
    /// A file whose modification time is a passive signal.
    pub log_path: Option<String>,
    /// Limits for this session alone.
    pub policy: PolicyOverrides,
    /// The phase a new incarnation starts in (usually working; an agent that just started
    /// waits for its first prompt). A registration that continues an incarnation keeps its
    /// phase.
    pub phase: Phase,
    /// Who registers it.
    pub source: Source,
    /// Start a new incarnation even when the same process registers again (an agent that
    /// says it started afresh).
    pub restart: bool,
}

impl Registration {
    /// Whether registering over `previous` continues that incarnation: the same process, still
    /// running, and no restart asked for. Registering is idempotent on (host, pid, id).
    #[must_use]
    pub fn continues(&self, previous: &Session) -> bool {
        !self.restart
            && previous.host == self.host
            && previous.pid == self.pid
            && previous.phase != Phase::Ended
            && !matches!(previous.process, ProcessFact::Exited { .. })
    }

    /// The record after this registration, given the stored one (if any), at `now`.
    #[must_use]
    pub fn apply(&self, previous: Option<&Session>, now: Timestamp) -> (Session, Vec<EventKind>) {
        if let Some(prev) = previous.filter(|p| self.continues(p)) {
            let mut s = prev.clone();
            s.pid_start = self.pid_start.or(s.pid_start);
            s.boot_id = self.boot_id.clone().or(s.boot_id);
            s.runtime = self.runtime;
            s.task.clone_from(&self.task);
            s.cwd = self.cwd.clone().or(s.cwd);
            s.labels.clone_from(&self.labels);
            s.log_path = self.log_path.clone().or(s.log_path);
            s.policy = self.policy;
            s.last_seen = s.last_seen.max(now);
            s.signals.insert(self.source, now);
            s.revision += 1;
            return (s, Vec::new());
        }
        let s = Session {
            id: self.id.clone(),
            parent: self.parent.clone(),
            incarnation: previous.map_or(1, |p| p.incarnation + 1),
            revision: previous.map_or(1, |p| p.revision + 1),
            host: self.host.clone(),
            pid: self.pid,
            pid_start: self.pid_start,
            boot_id: self.boot_id.clone(),
            runtime: self.runtime,
            task: self.task.clone(),
            cwd: self.cwd.clone(),
            labels: self.labels.clone(),
            registered_at: now,
            last_seen: now,
            last_activity: None,
            last_progress: None,
            phase: self.phase.clone(),
            phase_at: now,
            process: ProcessFact::Unknown,
            log_path: self.log_path.clone(),
            log_mtime: None,
            beats: 0,
            progress: None,
            signals: BTreeMap::from([(self.source, now)]),
            policy: self.policy,
        };
        let event = EventKind::Registered {
            runtime: s.runtime,
            location: s.location(),
        };
        (s, vec![event])
    }
}

/// What a heartbeat proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BeatKind {
    /// The session works: a tool call began or ended, a script reported in. Counts as progress.
    Activity,
    /// The process was seen running. Proves life, says nothing about progress.
    Alive,
    /// Something was heard from the session, and nothing more is known (an event coord does
    /// not interpret). Renews `last_seen` only.
    Signal,
}

/// One heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    /// Who sends it.
    pub source: Source,
    /// What it proves.
    pub kind: BeatKind,
    /// When the source observed what it reports; orders concurrent signals of one session.
    pub observed_at: Timestamp,
    /// The phase the agent reports, if any.
    pub phase: Option<Phase>,
    /// Progress details to keep for whoever takes the work over.
    pub progress: Option<serde_json::Value>,
    /// The modification time of the session's log, when the sender read it.
    pub log_mtime: Option<Timestamp>,
}

impl Beat {
    /// A plain activity heartbeat from `source` observed at `at`.
    #[must_use]
    pub fn activity(source: Source, at: Timestamp) -> Self {
        Self {
            source,
            kind: BeatKind::Activity,
            observed_at: at,
            phase: None,
            progress: None,
            log_mtime: None,
        }
    }

    /// A proof of life from a watcher or a process-table probe observed at `at`.
    #[must_use]
    pub fn alive(source: Source, at: Timestamp) -> Self {
        Self {
            kind: BeatKind::Alive,
            ..Self::activity(source, at)
        }
    }

    /// Applies the heartbeat to `s` at `now`. Returns `None`, changing nothing, when the
    /// session no longer takes heartbeats (it ended, or its process is known to have exited):
    /// the caller answers "not alive" and the sender may register afresh.
    pub fn apply(&self, s: &mut Session, now: Timestamp) -> Option<Vec<EventKind>> {
        if s.phase == Phase::Ended || matches!(s.process, ProcessFact::Exited { .. }) {
            return None;
        }
        let mut events = Vec::new();
        s.last_seen = s.last_seen.max(now);
        s.signals.insert(self.source, now);
        s.revision += 1;
        match self.kind {
            BeatKind::Activity => {
                s.beats += 1;
                s.last_activity = Some(now);
                s.last_progress = Some(now);
            }
            BeatKind::Alive => s.process = ProcessFact::Alive { checked_at: now },
            BeatKind::Signal => {}
        }
        if let Some(details) = &self.progress {
            s.progress = Some(details.clone());
            s.last_progress = Some(now);
        }
        if let Some(m) = self.log_mtime {
            s.log_mtime = Some(s.log_mtime.map_or(m, |old| old.max(m)));
        }
        if let Some(phase) = &self.phase
            && self.observed_at >= s.phase_at
            && *phase != s.phase
        {
            events.push(phase_event(&s.phase, phase));
            s.phase = phase.clone();
            s.phase_at = self.observed_at;
        }
        Some(events)
    }
}

fn phase_event(from: &Phase, to: &Phase) -> EventKind {
    if *to == Phase::Ended {
        EventKind::Ended
    } else {
        EventKind::Phase {
            from: from.name().to_owned(),
            to: to.name().to_owned(),
        }
    }
}

impl Session {
    /// Ends the session cleanly at `now` (unregister). Returns the events, none when it had
    /// already ended.
    pub fn end(&mut self, source: Source, now: Timestamp) -> Vec<EventKind> {
        if self.phase == Phase::Ended {
            return Vec::new();
        }
        self.phase = Phase::Ended;
        self.phase_at = now;
        self.last_seen = self.last_seen.max(now);
        self.signals.insert(source, now);
        self.revision += 1;
        vec![EventKind::Ended]
    }

    /// Records that the process ended, seen at `now`. Returns the events, none when an exit
    /// was already recorded.
    pub fn exited(&mut self, status: ExitStatus, source: Source, now: Timestamp) -> Vec<EventKind> {
        if matches!(self.process, ProcessFact::Exited { .. }) {
            return Vec::new();
        }
        self.process = ProcessFact::Exited { status, at: now };
        self.signals.insert(source, now);
        self.revision += 1;
        vec![EventKind::Exited { status }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn registration(id: &str) -> Registration {
        Registration {
            id: id.to_owned(),
            parent: None,
            host: "h".to_owned(),
            pid: Some(42),
            pid_start: Some(7),
            boot_id: Some("b".to_owned()),
            runtime: Runtime::Shell,
            task: "session".to_owned(),
            cwd: None,
            labels: BTreeMap::new(),
            log_path: None,
            policy: PolicyOverrides::default(),
            phase: Phase::Working,
            source: Source::Cli,
            restart: false,
        }
    }

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn registering_the_same_process_again_keeps_the_incarnation() {
        let reg = registration("a");
        let (first, events) = reg.apply(None, t(1_000));
        assert_eq!(events.len(), 1);
        let (again, events) = reg.apply(Some(&first), t(5_000));
        assert!(events.is_empty());
        assert_eq!(again.incarnation, 1);
        assert_eq!(again.registered_at, t(1_000));
        assert_eq!(again.last_seen, t(5_000));
    }

    #[test]
    fn another_pid_or_a_restart_is_a_new_incarnation() {
        let reg = registration("a");
        let (first, _) = reg.apply(None, t(1_000));
        let other = Registration {
            pid: Some(43),
            ..reg.clone()
        };
        let (second, events) = other.apply(Some(&first), t(2_000));
        assert_eq!(second.incarnation, 2);
        assert_eq!(second.registered_at, t(2_000));
        assert_eq!(events[0].name(), "registered");
        let restart = Registration {
            restart: true,
            ..reg
        };
        assert_eq!(restart.apply(Some(&second), t(3_000)).0.incarnation, 3);
    }

    #[test]
    fn an_older_phase_report_never_overrides_a_newer_one() {
        let (mut s, _) = registration("a").apply(None, t(1_000));
        let waiting = Beat {
            phase: Some(Phase::Waiting),
            ..Beat::activity(Source::Hook, t(3_000))
        };
        let late = Beat {
            phase: Some(Phase::InTool {
                tool: "Bash".into(),
                since: t(2_000),
            }),
            ..Beat::activity(Source::Hook, t(2_000))
        };
        assert_eq!(waiting.apply(&mut s, t(3_001)).unwrap().len(), 1);
        assert!(late.apply(&mut s, t(3_002)).unwrap().is_empty());
        assert_eq!(s.phase, Phase::Waiting);
        assert_eq!(s.beats, 2, "the late beat still counts as a signal");
        assert_eq!(s.last_seen, t(3_002));
    }

    #[test]
    fn an_ended_or_exited_session_refuses_heartbeats() {
        let (mut s, _) = registration("a").apply(None, t(1_000));
        let mut exited = s.clone();
        assert_eq!(s.end(Source::Cli, t(2_000)).len(), 1);
        assert!(s.end(Source::Cli, t(2_500)).is_empty());
        assert!(
            Beat::activity(Source::Cli, t(3_000))
                .apply(&mut s, t(3_000))
                .is_none()
        );
        exited.exited(ExitStatus::Gone, Source::Probe, t(2_000));
        let before = exited.clone();
        assert!(
            Beat::activity(Source::Cli, t(3_000))
                .apply(&mut exited, t(3_000))
                .is_none()
        );
        assert_eq!(exited, before);
    }
}
