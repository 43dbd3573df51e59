//! The conformance suite every [`Store`] backend must pass, with the same test names for each.
//!
//! A backend's test file implements [`Backend`] (open a fresh handle on one private store) and
//! calls [`conformance_suite!`]. Times are compared to the store's own clock, never the host's,
//! so a backend with a server clock passes the same checks.

use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

use coord_core::{
    Beat, EventKind, ExitStatus, NewTask, Notice, NoticeKind, Phase, PolicyOverrides, ProcessFact,
    Registration, Runtime, Source, Task, TaskState, Timestamp,
};
use coord_store::{Config, Store, TaskEvent};

mod batches;
mod claims;
mod retention;
pub use batches::*;
pub use claims::*;
pub use retention::*;

/// A private store that the suite may open as many handles on as it likes.
pub trait Backend: Sync {
    /// A new handle on the store, opened with `config` (its namespace, its host gap).
    fn open_with(&self, config: Config) -> Box<dyn Store>;

    /// A new handle on the store, seeing `namespace`.
    fn open(&self, namespace: &str) -> Box<dyn Store> {
        self.open_with(Config::new(namespace))
    }
}

/// Generates one `#[test]` per conformance check for a backend built by `$make`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@tests $make;
            registration_round_trips,
            registering_again_is_idempotent_on_host_pid_and_id,
            another_pid_or_a_restart_starts_a_new_incarnation,
            a_heartbeat_for_an_unknown_id_is_not_alive,
            heartbeats_count_and_renew,
            phase_changes_are_logged_and_older_reports_ignored,
            an_unregistered_session_ends_and_refuses_heartbeats,
            exits_are_recorded_once_and_only_for_the_current_incarnation,
            events_have_growing_sequence_numbers_and_resume_after_one,
            namespaces_never_mix,
            quiet_since_returns_the_longest_silent_first_and_is_bounded,
            eviction_is_refused_when_the_session_changed_since_it_was_judged,
            host_heard_is_the_latest_signal_of_any_session_on_the_host,
            hosts_lists_every_host_of_the_namespace_as_host_heard_tells_it,
            a_host_notice_changes_by_compare_and_set_with_its_event,
            a_host_silent_longer_than_the_host_gap_is_heard_without_a_gap_from_then_on,
            concurrent_heartbeats_from_many_handles_lose_nothing,
            progress_details_are_kept,
            tidy_keeps_every_session_and_recent_event,
            tasks_round_trip_and_list_oldest_first,
            tasks_change_by_compare_and_set_only,
            a_task_change_logs_its_events_with_it,
            fencing_tokens_only_grow_and_are_never_handed_out_twice,
            tasks_of_namespaces_never_mix,
            a_group_of_changes_lands_every_change_with_its_events,
            a_claim_takes_the_oldest_waiting_task_that_fits_with_one_token,
            a_released_task_waits_again_with_its_holders_progress_intact,
            claimers_racing_on_many_handles_claim_every_task_once_and_burn_no_token,
            a_waiting_task_is_found_among_many_finished_ones,
            finished_tasks_retire_oldest_first_and_nothing_open_ever_does,
            a_batch_of_heartbeats_answers_each_as_it_would_alone,
            a_batch_of_claims_and_swaps_answers_each_as_it_would_alone,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let backend = $make;
                conformance::$name(&backend);
            }
        )*
    };
}

/// The registration of a session `id` that the suite's checks start from.
pub fn registration(id: &str) -> Registration {
    Registration {
        id: id.to_owned(),
        parent: None,
        host: "host-a".to_owned(),
        pid: Some(4242),
        pid_start: Some(123_456),
        boot_id: Some("boot-1".to_owned()),
        runtime: Runtime::Claude,
        task: "fix the build".to_owned(),
        cwd: Some("/work".to_owned()),
        labels: BTreeMap::from([("team".to_owned(), "infra".to_owned())]),
        log_path: Some("/tmp/s.log".to_owned()),
        policy: PolicyOverrides {
            ttl: Some(30_000),
            ..PolicyOverrides::default()
        },
        phase: Phase::Working,
        source: Source::Cli,
        restart: false,
    }
}

fn beat(store: &dyn Store) -> Beat {
    Beat::activity(Source::Cli, store.now().unwrap())
}

pub fn registration_round_trips(b: &dyn Backend) {
    let store = b.open("default");
    let before = store.now().unwrap();
    let reg = registration("s1");
    let stored = store.register(&reg).unwrap();
    let read = store
        .session("s1")
        .unwrap()
        .expect("registered session is found");
    assert_eq!(stored, read);
    assert_eq!(read.host, "host-a");
    assert_eq!((read.pid, read.pid_start), (Some(4242), Some(123_456)));
    assert_eq!(read.boot_id.as_deref(), Some("boot-1"));
    assert_eq!(read.runtime, Runtime::Claude);
    assert_eq!(read.task, "fix the build");
    assert_eq!(read.cwd.as_deref(), Some("/work"));
    assert_eq!(read.labels["team"], "infra");
    assert_eq!(read.log_path.as_deref(), Some("/tmp/s.log"));
    assert_eq!(read.policy.ttl, Some(30_000));
    assert_eq!(read.incarnation, 1);
    assert_eq!(read.phase, Phase::Working);
    assert_eq!(read.process, ProcessFact::Unknown);
    assert!(read.registered_at >= before && read.last_seen >= before);
    assert!(store.session("nobody").unwrap().is_none());
    let child = store
        .register(&Registration {
            parent: Some("s1".into()),
            ..registration("s1/agent-7")
        })
        .unwrap();
    assert_eq!(store.session("s1/agent-7").unwrap().unwrap(), child);
    assert_eq!(child.parent.as_deref(), Some("s1"));
    let events = store.events(0, 100).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].session, "s1");
    assert!(matches!(events[0].kind, EventKind::Registered { .. }));
}

pub fn registering_again_is_idempotent_on_host_pid_and_id(b: &dyn Backend) {
    let store = b.open("default");
    let first = store.register(&registration("s1")).unwrap();
    let again = store
        .register(&Registration {
            task: "another task".into(),
            ..registration("s1")
        })
        .unwrap();
    assert_eq!(again.incarnation, first.incarnation);
    assert_eq!(again.registered_at, first.registered_at);
    assert!(again.last_seen >= first.last_seen);
    assert_eq!(again.task, "another task");
    assert_eq!(store.events(0, 100).unwrap().len(), 1, "no new event");
    assert_eq!(store.sessions().unwrap().len(), 1);
}

pub fn another_pid_or_a_restart_starts_a_new_incarnation(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    store.heartbeat("s1", &beat(&*store)).unwrap();
    let moved = store
        .register(&Registration {
            pid: Some(5000),
            ..registration("s1")
        })
        .unwrap();
    assert_eq!(moved.incarnation, 2);
    assert_eq!(moved.beats, 0, "a new incarnation starts afresh");
    let restarted = store
        .register(&Registration {
            pid: Some(5000),
            restart: true,
            ..registration("s1")
        })
        .unwrap();
    assert_eq!(restarted.incarnation, 3);
    let kinds: Vec<_> = store
        .events(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(kinds, ["registered", "registered", "registered"]);
}

pub fn a_heartbeat_for_an_unknown_id_is_not_alive(b: &dyn Backend) {
    let store = b.open("default");
    assert!(store.heartbeat("ghost", &beat(&*store)).unwrap().is_none());
    assert!(
        store.sessions().unwrap().is_empty(),
        "a heartbeat never creates a session"
    );
    assert!(store.events(0, 10).unwrap().is_empty());
}

pub fn heartbeats_count_and_renew(b: &dyn Backend) {
    let store = b.open("default");
    let first = store.register(&registration("s1")).unwrap();
    for _ in 0..5 {
        store
            .heartbeat("s1", &beat(&*store))
            .unwrap()
            .expect("alive");
    }
    let alive = store
        .heartbeat("s1", &Beat::alive(Source::Watch, store.now().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(
        alive.beats, 5,
        "a proof of life is not a heartbeat of the session"
    );
    assert!(alive.last_seen >= first.last_seen);
    assert!(
        alive
            .last_activity
            .is_some_and(|t| t >= first.registered_at)
    );
    assert!(matches!(alive.process, ProcessFact::Alive { .. }));
    assert!(alive.signals.contains_key(&Source::Watch) && alive.signals.contains_key(&Source::Cli));
    assert!(alive.revision > first.revision);
    assert_eq!(store.session("s1").unwrap().unwrap(), alive);
}

pub fn phase_changes_are_logged_and_older_reports_ignored(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    let now = store.now().unwrap();
    let in_tool = Phase::InTool {
        tool: "Bash".into(),
        since: now,
    };
    let report = |phase: Phase, at: Timestamp| Beat {
        phase: Some(phase),
        ..Beat::activity(Source::Hook, at)
    };
    store
        .heartbeat(
            "s1",
            &report(
                in_tool.clone(),
                now.plus(std::time::Duration::from_millis(10)),
            ),
        )
        .unwrap();
    let s = store
        .heartbeat("s1", &report(Phase::Working, now))
        .unwrap()
        .unwrap();
    assert_eq!(
        s.phase, in_tool,
        "an older report does not override a newer phase"
    );
    store
        .heartbeat(
            "s1",
            &report(
                in_tool.clone(),
                now.plus(std::time::Duration::from_millis(20)),
            ),
        )
        .unwrap();
    let phases: Vec<_> = store
        .session_events("s1", 10)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Phase { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        [("working".to_owned(), "in-tool".to_owned())],
        "one change, one event"
    );
}

pub fn an_unregistered_session_ends_and_refuses_heartbeats(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    let ended = store.unregister("s1", Source::Cli).unwrap().unwrap();
    assert_eq!(ended.phase, Phase::Ended);
    assert!(store.heartbeat("s1", &beat(&*store)).unwrap().is_none());
    assert!(store.unregister("nobody", Source::Cli).unwrap().is_none());
    let again = store.register(&registration("s1")).unwrap();
    assert_eq!(
        again.incarnation, 2,
        "registering after the end starts afresh"
    );
    assert_eq!(again.phase, Phase::Working);
}

pub fn exits_are_recorded_once_and_only_for_the_current_incarnation(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    assert!(
        !store
            .record_exit("s1", 7, ExitStatus::Gone, Source::Probe)
            .unwrap()
    );
    assert!(
        store
            .record_exit("s1", 1, ExitStatus::Signal(9), Source::Watch)
            .unwrap()
    );
    assert!(
        !store
            .record_exit("s1", 1, ExitStatus::Gone, Source::Probe)
            .unwrap()
    );
    assert!(
        !store
            .record_exit("ghost", 1, ExitStatus::Gone, Source::Probe)
            .unwrap()
    );
    let s = store.session("s1").unwrap().unwrap();
    assert!(matches!(
        s.process,
        ProcessFact::Exited {
            status: ExitStatus::Signal(9),
            ..
        }
    ));
    assert!(
        store.heartbeat("s1", &beat(&*store)).unwrap().is_none(),
        "a dead process beats no more"
    );
    let exits = store
        .session_events("s1", 10)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.name() == "exited")
        .count();
    assert_eq!(exits, 1);
}

pub fn events_have_growing_sequence_numbers_and_resume_after_one(b: &dyn Backend) {
    let store = b.open("default");
    for i in 0..5 {
        store.register(&registration(&format!("s{i}"))).unwrap();
        store.unregister(&format!("s{i}"), Source::Cli).unwrap();
    }
    let all = store.events(0, 100).unwrap();
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let after = all[3].seq;
    let rest = store.events(after, 100).unwrap();
    assert_eq!(rest, all[4..].to_vec());
    assert_eq!(store.events(after, 2).unwrap(), all[4..6].to_vec());
    let of_s2 = store.session_events("s2", 10).unwrap();
    assert_eq!(
        of_s2.iter().map(|e| e.kind.name()).collect::<Vec<_>>(),
        ["registered", "ended"]
    );
    assert_eq!(store.session_events("s2", 1).unwrap(), of_s2[1..].to_vec());
}

pub fn namespaces_never_mix(b: &dyn Backend) {
    let a = b.open("team-a");
    let other = b.open("team-b");
    a.register(&registration("s1")).unwrap();
    assert!(other.session("s1").unwrap().is_none());
    assert!(other.sessions().unwrap().is_empty());
    assert!(other.events(0, 10).unwrap().is_empty());
    assert!(other.heartbeat("s1", &beat(&*other)).unwrap().is_none());
    assert!(other.host_heard("host-a").unwrap().is_none());
    other.register(&registration("s1")).unwrap();
    other.unregister("s1", Source::Cli).unwrap();
    assert_eq!(a.session("s1").unwrap().unwrap().phase, Phase::Working);
}

pub fn quiet_since_returns_the_longest_silent_first_and_is_bounded(b: &dyn Backend) {
    let store = b.open("default");
    for id in ["s1", "s2", "s3"] {
        store.register(&registration(id)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    store.heartbeat("s1", &beat(&*store)).unwrap();
    let later = store
        .now()
        .unwrap()
        .plus(std::time::Duration::from_millis(1));
    let quiet: Vec<_> = store
        .quiet_since(later, 10)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(quiet, ["s2", "s3", "s1"]);
    let two: Vec<_> = store
        .quiet_since(later, 2)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(two, ["s2", "s3"]);
    let s3 = store.session("s3").unwrap().unwrap();
    let before_s3: Vec<_> = store
        .quiet_since(s3.last_seen, 10)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(before_s3, ["s2"]);
}

pub fn eviction_is_refused_when_the_session_changed_since_it_was_judged(b: &dyn Backend) {
    let store = b.open("default");
    let judged = store.register(&registration("s1")).unwrap();
    store.heartbeat("s1", &beat(&*store)).unwrap();
    assert!(
        !store.evict("s1", judged.revision, "dead").unwrap(),
        "it beat since"
    );
    assert!(store.session("s1").unwrap().is_some());
    let current = store.session("s1").unwrap().unwrap();
    assert!(store.evict("s1", current.revision, "process gone").unwrap());
    assert!(store.session("s1").unwrap().is_none());
    assert!(!store.evict("s1", current.revision, "again").unwrap());
    let last = store.events(0, 100).unwrap().pop().unwrap();
    assert_eq!(last.session, "s1");
    assert_eq!(
        last.kind,
        EventKind::Evicted {
            reason: "process gone".into()
        }
    );
}

pub fn host_heard_is_the_latest_signal_of_any_session_on_the_host(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    let s2 = store
        .register(&Registration {
            pid: Some(77),
            ..registration("s2")
        })
        .unwrap();
    store
        .register(&Registration {
            host: "host-b".into(),
            ..registration("s3")
        })
        .unwrap();
    let heard = store.host_heard("host-a").unwrap().unwrap();
    assert!(heard.last >= s2.last_seen);
    // Heard since its first session, without a gap.
    assert!(heard.since <= s2.registered_at && heard.since > Timestamp::from_millis(0));
    let s1 = store.heartbeat("s1", &beat(&*store)).unwrap().unwrap();
    let after = store.host_heard("host-a").unwrap().unwrap();
    assert_eq!(after.last, s1.last_seen.max(heard.last));
    assert_eq!(after.since, heard.since, "heard all along");
    assert!(store.host_heard("host-c").unwrap().is_none());
}

pub fn hosts_lists_every_host_of_the_namespace_as_host_heard_tells_it(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    store
        .register(&Registration {
            host: "host-b".into(),
            ..registration("s2")
        })
        .unwrap();
    b.open("other")
        .register(&Registration {
            host: "host-c".into(),
            ..registration("s3")
        })
        .unwrap();
    let hosts = store.hosts().unwrap();
    assert_eq!(
        hosts.keys().map(String::as_str).collect::<Vec<_>>(),
        ["host-a", "host-b"]
    );
    for (name, heard) in &hosts {
        assert_eq!(Some(*heard), store.host_heard(name).unwrap());
        assert_eq!(heard.notice, None);
    }
}

pub fn a_host_silent_longer_than_the_host_gap_is_heard_without_a_gap_from_then_on(b: &dyn Backend) {
    let store = b.open_with(Config {
        host_gap: Duration::from_millis(300),
        ..Config::new("default")
    });
    // A store written by another (a server) may keep its own gap: it says which.
    let gap = store.host_gap().unwrap();
    let first = store.register(&registration("s1")).unwrap();
    let beat = || {
        let now = store.now().unwrap();
        store
            .heartbeat("s1", &Beat::activity(Source::Hook, now))
            .unwrap();
        store.host_heard("host-a").unwrap().unwrap()
    };
    thread::sleep(Duration::from_millis(50));
    let heard = beat();
    assert_eq!(heard.since, first.last_seen, "50 ms is no gap");
    let paused = heard.last.since(first.last_seen);
    assert!(paused >= Duration::from_millis(50), "{paused:?}");
    assert_eq!(
        heard.pause, paused,
        "the silence is the host's longest pause"
    );
    let again = beat();
    assert_eq!(
        again.pause, paused,
        "a shorter silence leaves the longest one"
    );
    thread::sleep(Duration::from_millis(400));
    let heard = beat();
    if gap < Duration::from_millis(400) {
        assert_eq!(gap, Duration::from_millis(300));
        assert_eq!(
            heard.since, heard.last,
            "a silence of 400 ms is a gap of 300 ms"
        );
        assert_eq!(heard.pause, Duration::ZERO, "no pause since the gap");
    } else {
        assert_eq!(heard.since, first.last_seen, "no gap of {gap:?}");
        assert_eq!(heard.pause, heard.last.since(again.last));
    }
}

pub fn a_host_notice_changes_by_compare_and_set_with_its_event(b: &dyn Backend) {
    let store = b.open("default");
    let s = store.register(&registration("s1")).unwrap();
    let now = store.now().unwrap();
    let asleep = Notice {
        kind: NoticeKind::Asleep,
        at: now,
    };
    let event = |became: &str| EventKind::Host {
        became: became.to_owned(),
        why: "said so".to_owned(),
    };
    let after = store.events(0, 100).unwrap().last().unwrap().seq;
    assert!(
        store
            .note_host("host-a", None, Some(asleep), &event("asleep"))
            .unwrap()
    );
    let heard = store.host_heard("host-a").unwrap().unwrap();
    assert_eq!(heard.notice, Some(asleep));
    assert_eq!(heard.last, s.last_seen, "a notice is not a signal");
    assert_eq!(store.hosts().unwrap()["host-a"].notice, Some(asleep));
    // Whoever read no notice before lost the race: nothing changes, nothing is logged.
    assert!(
        !store
            .note_host("host-a", None, None, &event("awake"))
            .unwrap()
    );
    assert!(
        store
            .note_host("host-a", Some(asleep), None, &event("awake"))
            .unwrap()
    );
    assert_eq!(store.host_heard("host-a").unwrap().unwrap().notice, None);
    let events = store.events(after, 100).unwrap();
    let logged: Vec<_> = events
        .iter()
        .map(|e| (e.session.as_str(), e.kind.clone()))
        .collect();
    assert_eq!(
        logged,
        [("host-a", event("asleep")), ("host-a", event("awake"))]
    );
    // A host never heard is heard at its notice, so it is listed and judged like the others.
    let down = Notice {
        kind: NoticeKind::Down,
        at: now,
    };
    assert!(
        store
            .note_host("host-new", None, Some(down), &event("down"))
            .unwrap()
    );
    let new = store.host_heard("host-new").unwrap().unwrap();
    assert_eq!((new.last, new.since, new.notice), (now, now, Some(down)));
    assert!(b.open("other").host_heard("host-new").unwrap().is_none());
}

pub fn concurrent_heartbeats_from_many_handles_lose_nothing(b: &dyn Backend) {
    const THREADS: usize = 8;
    const BEATS: usize = 50;
    b.open("default").register(&registration("shared")).unwrap();
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                let store = b.open("default");
                for _ in 0..BEATS {
                    store
                        .heartbeat("shared", &beat(&*store))
                        .unwrap()
                        .expect("alive");
                }
            });
        }
    });
    let s = b.open("default").session("shared").unwrap().unwrap();
    assert_eq!(s.beats, (THREADS * BEATS) as u64);
}

pub fn progress_details_are_kept(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    let details = serde_json::json!({"step": 3, "of": 7, "note": "tests pass"});
    let with_progress = Beat {
        progress: Some(details.clone()),
        ..beat(&*store)
    };
    store.heartbeat("s1", &with_progress).unwrap();
    store.heartbeat("s1", &beat(&*store)).unwrap();
    assert_eq!(
        store.session("s1").unwrap().unwrap().progress,
        Some(details)
    );
}

pub fn tidy_keeps_every_session_and_recent_event(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    let events = store.events(0, 10).unwrap();
    store.tidy().unwrap();
    assert!(store.session("s1").unwrap().is_some());
    assert_eq!(store.events(0, 10).unwrap(), events);
}

/// A new task `id` that the suite's checks start from.
pub fn new_task(store: &dyn Store, id: &str) -> Task {
    let labels = BTreeMap::from([("team".to_owned(), "infra".to_owned())]);
    let spec = NewTask {
        id: id.to_owned(),
        title: format!("do {id}"),
        labels,
        max_attempts: Some(4),
    };
    Task::new(&spec, store.now().unwrap())
}

pub fn tasks_round_trip_and_list_oldest_first(b: &dyn Backend) {
    let store = b.open("default");
    assert!(store.tasks().unwrap().is_empty());
    assert!(store.task("t1").unwrap().is_none());
    let mut ids = Vec::new();
    for id in ["zeta", "alpha", "mid"] {
        let mut t = new_task(&*store, id);
        let token = store.next_token().unwrap();
        if id == "alpha" {
            t.claim(
                "s1",
                token,
                std::time::Duration::from_secs(60),
                store.now().unwrap(),
            )
            .unwrap();
            t.progress = Some(serde_json::json!({"step": 2, "note": "half way"}));
        }
        assert!(store.put_task(&t, None, &[]).unwrap());
        assert_eq!(
            store.task(id).unwrap().unwrap(),
            t,
            "{id} reads back as stored"
        );
        ids.push(id);
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let listed: Vec<String> = store.tasks().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(listed, ids, "oldest first");
    let alpha = store.task("alpha").unwrap().unwrap();
    assert!(matches!(alpha.state, TaskState::Claimed { ref session, .. } if session == "s1"));
}

pub fn tasks_change_by_compare_and_set_only(b: &dyn Backend) {
    let store = b.open("default");
    let t = new_task(&*store, "t1");
    assert!(store.put_task(&t, None, &[]).unwrap());
    assert!(!store.put_task(&t, None, &[]).unwrap(), "it exists already");
    let mut claimed = t.clone();
    claimed
        .claim(
            "s1",
            1,
            std::time::Duration::from_secs(60),
            store.now().unwrap(),
        )
        .unwrap();
    assert!(
        !store.put_task(&claimed, Some(t.revision + 7), &[]).unwrap(),
        "wrong revision"
    );
    assert_eq!(
        store.task("t1").unwrap().unwrap(),
        t,
        "a refused swap changes nothing"
    );
    assert!(store.put_task(&claimed, Some(t.revision), &[]).unwrap());
    assert!(
        !store.put_task(&claimed, Some(t.revision), &[]).unwrap(),
        "a second swap loses"
    );
    assert_eq!(store.task("t1").unwrap().unwrap(), claimed);
}

pub fn a_task_change_logs_its_events_with_it(b: &dyn Backend) {
    let store = b.open("default");
    let t = new_task(&*store, "t1");
    let event = TaskEvent {
        session: "s1".into(),
        incarnation: 2,
        kind: EventKind::Claimed {
            task: "t1".into(),
            token: 9,
        },
    };
    assert!(
        store
            .put_task(&t, None, std::slice::from_ref(&event))
            .unwrap()
    );
    assert!(
        !store
            .put_task(&t, None, std::slice::from_ref(&event))
            .unwrap()
    );
    let events = store.events(0, 10).unwrap();
    assert_eq!(events.len(), 1, "a refused swap logs nothing");
    assert_eq!(
        (events[0].session.as_str(), events[0].incarnation),
        ("s1", 2)
    );
    assert_eq!(events[0].kind, event.kind);
    assert_eq!(store.session_events("s1", 10).unwrap(), events);
}

pub fn fencing_tokens_only_grow_and_are_never_handed_out_twice(b: &dyn Backend) {
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let first = b.open("default").next_token().unwrap();
    let per_thread: Vec<Vec<u64>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let store = b.open("default");
                    (0..EACH)
                        .map(|_| store.next_token().unwrap())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = per_thread.iter().flatten().copied().collect();
    for tokens in &per_thread {
        assert!(
            tokens.windows(2).all(|w| w[0] < w[1]),
            "each caller sees them grow"
        );
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), THREADS * EACH, "never handed out twice");
    assert!(all[0] > first);
}

pub fn tasks_of_namespaces_never_mix(b: &dyn Backend) {
    let a = b.open("team-a");
    let other = b.open("team-b");
    assert!(a.put_task(&new_task(&*a, "t1"), None, &[]).unwrap());
    assert!(other.task("t1").unwrap().is_none());
    assert!(other.tasks().unwrap().is_empty());
    assert!(other.put_task(&new_task(&*other, "t1"), None, &[]).unwrap());
    // Where a counter starts is the store's (the fleet's starts from its clock, see
    // `take_token`); that taking from one moves the other not at all is the promise.
    let first_a = a.next_token().unwrap();
    let first_other = other.next_token().unwrap();
    assert_eq!(
        (a.next_token().unwrap(), other.next_token().unwrap()),
        (first_a + 1, first_other + 1),
        "each namespace counts its own tokens"
    );
}

pub fn a_group_of_changes_lands_every_change_with_its_events(b: &dyn Backend) {
    let store = b.open("default");
    let after = store.events(0, 10_000).unwrap().last().map_or(0, |e| e.seq);
    let mut answers = Vec::new();
    store
        .grouped(&mut || {
            answers.push(store.register(&registration("g1")).map(|s| s.beats));
            for _ in 0..3 {
                let beat = Beat {
                    phase: Some(Phase::Waiting),
                    ..beat(&*store)
                };
                answers.push(
                    store
                        .heartbeat("g1", &beat)
                        .map(|s| s.expect("alive").beats),
                );
            }
            answers.push(
                store
                    .heartbeat("nobody", &beat(&*store))
                    .map(|s| s.map_or(99, |s| s.beats)),
            );
        })
        .unwrap();
    let answers: Vec<u64> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers, [0, 1, 2, 3, 99]);
    let other = b.open("default");
    assert_eq!(other.session("g1").unwrap().unwrap().beats, 3);
    let kinds: Vec<_> = other
        .events(after, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        matches!(kinds[0], EventKind::Registered { .. }),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.len(),
        2,
        "registered, then one phase change: {kinds:?}"
    );
}
