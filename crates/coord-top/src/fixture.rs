//! Snapshots built by hand for the unit tests of the keys and the drawing.

use std::collections::{BTreeMap, VecDeque};

use coord_core::{
    Event, EventKind, HostHeard, HostState, HostVerdict, Notice, NoticeKind, Phase,
    PolicyOverrides, ProcessFact, Rule, Runtime, Session, State, Task, TaskState, Timestamp,
    Verdict,
};
use coord_service::hosts::HostEntry;
use coord_service::{Entry, Fleet};

use crate::snapshot::Snapshot;

/// The store's time in every fixture.
pub const NOW: i64 = 1_764_064_800_000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// A session `id` on host `vm`, last heard `ago_ms` before [`NOW`], judged `state` by `rule`.
pub fn entry(id: &str, pid: u32, state: State, rule: Rule, reason: &str, ago_ms: i64) -> Entry {
    let seen = t(NOW - ago_ms);
    Entry {
        session: Session {
            id: id.into(),
            parent: None,
            incarnation: 1,
            revision: 1,
            host: "vm".into(),
            pid: Some(pid),
            pid_start: Some(1),
            boot_id: Some("b".into()),
            runtime: Runtime::Shell,
            task: format!("task of {id}"),
            cwd: None,
            labels: BTreeMap::new(),
            registered_at: t(NOW - 60_000),
            last_seen: seen,
            last_activity: Some(seen),
            last_progress: Some(seen),
            phase: Phase::Working,
            phase_at: seen,
            process: ProcessFact::Unknown,
            log_path: None,
            log_mtime: None,
            beats: 1,
            progress: None,
            signals: BTreeMap::new(),
            policy: PolicyOverrides::default(),
        },
        verdict: Verdict {
            state,
            rule,
            reason: reason.into(),
            since: seen,
        },
        claims: Vec::new(),
        leads: false,
    }
}

/// Two hosts, by name: `far`, lost two hours ago (`vm` heard all along), and `vm`, heard, with
/// the sessions of the fleet that have not ended.
fn hosts() -> Vec<HostEntry> {
    let lost_at = t(NOW - 60_000);
    vec![
        HostEntry {
            name: "far".into(),
            heard: HostHeard {
                notice: Some(Notice {
                    kind: NoticeKind::Lost,
                    at: lost_at,
                }),
                ..HostHeard::new(t(NOW - 7_260_000), t(NOW - 9_000_000))
            },
            verdict: HostVerdict {
                state: HostState::Lost,
                reason: "silent 2h1m while 1 host heard".into(),
                witnesses: vec!["vm".into()],
                since: lost_at,
            },
            sessions: Vec::new(),
        },
        HostEntry {
            name: "vm".into(),
            heard: HostHeard::new(t(NOW - 1_000), t(NOW - 60_000)),
            verdict: HostVerdict {
                state: HostState::Heard,
                reason: "heard 1s ago".into(),
                witnesses: Vec::new(),
                since: t(NOW - 60_000),
            },
            sessions: vec!["builder".into(), "crasher".into(), "reviewer".into()],
        },
    ]
}

/// A fleet of four sessions (one leads and holds `t-1`) on two hosts, two tasks and three
/// events.
pub fn snapshot() -> Snapshot {
    let mut builder = entry(
        "builder",
        11,
        State::InTool,
        Rule::ToolRunning,
        "running cargo for 1s",
        1_000,
    );
    builder.claims = vec!["t-1".into()];
    builder.leads = true;
    let task = |id: &str, state: TaskState| Task {
        id: id.into(),
        title: format!("title of {id}"),
        labels: BTreeMap::new(),
        state,
        attempts: 0,
        max_attempts: 3,
        progress: None,
        not_before: None,
        created_at: t(NOW - 30_000),
        updated_at: t(NOW - 5_000),
        revision: 1,
        history: Vec::new(),
    };
    let event = |seq: u64, session: &str, kind: EventKind| Event {
        seq,
        at: t(NOW - 10_000 + seq as i64 * 1000),
        session: session.into(),
        incarnation: 1,
        kind,
    };
    Snapshot {
        fleet: Fleet {
            now: t(NOW),
            entries: vec![
                builder,
                entry(
                    "crasher",
                    12,
                    State::Dead,
                    Rule::ProcessExited,
                    "process gone, seen 3s ago",
                    4_000,
                ),
                entry(
                    "finisher",
                    13,
                    State::Ended,
                    Rule::EndedCleanly,
                    "unregistered",
                    9_000,
                ),
                entry(
                    "reviewer",
                    14,
                    State::Idle,
                    Rule::TurnOver,
                    "turn over 6s ago; waiting for a prompt",
                    6_000,
                ),
            ],
        },
        hosts: hosts(),
        tasks: vec![
            task(
                "t-1",
                TaskState::Claimed {
                    session: "builder".into(),
                    token: 7,
                    lease_until: t(NOW + 60_000),
                },
            ),
            task("t-2", TaskState::Pending),
        ],
        events: VecDeque::from(vec![
            event(
                1,
                "builder",
                EventKind::Registered {
                    runtime: Runtime::Shell,
                    location: "vm:11".into(),
                },
            ),
            event(
                2,
                "crasher",
                EventKind::Registered {
                    runtime: Runtime::Shell,
                    location: "vm:12".into(),
                },
            ),
            event(3, "finisher", EventKind::Ended),
        ]),
        error: None,
    }
}
