//! A fleet's life played step by step on a manual clock, against the real embedded store:
//! a holder dies, a zombie returns, a leader is lost, a laptop sleeps, a partition heals, the
//! store goes down.
//! Every step is deterministic: time moves only when the script moves it.

use std::time::Duration;

use coord_core::{ExitStatus, NewTask, Policy, Source, State, TaskError, TaskState, Timestamp};
use coord_service::leader::DEFAULT_LEADER_LEASE;
use coord_service::tasks::TaskOp;
use coord_service::{HostInfo, RegisterRequest, Service, ServiceError};
use coord_store::sqlite::SqliteStore;
use coord_store::{Clock, Config};

const MIN: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_secs(3600);

/// One store, one manual clock, and a service per simulated host.
struct Fleet {
    dir: tempfile::TempDir,
    clock: Clock,
}

impl Fleet {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            clock: Clock::manual(Timestamp::from_millis(1_800_000_000_000)),
        }
    }

    /// coord as run on `host`.
    fn on(&self, host: &str) -> Service {
        let config = Config {
            clock: self.clock.clone(),
            ..Config::new("default")
        };
        let store = SqliteStore::open(&self.dir.path().join("coord.db"), &config).unwrap();
        let policy = Policy {
            evict_grace: MIN,
            ..Policy::default()
        };
        let host = HostInfo {
            name: host.to_owned(),
            boot_id: None,
            claude_sessions: None,
            codex_sessions: None,
            home: None,
        };
        Service::new(Box::new(store), host, policy)
    }

    fn wait(&self, d: Duration) {
        self.clock.advance(d);
    }
}

fn join(svc: &Service, id: &str) -> u64 {
    svc.register(RegisterRequest {
        id: Some(id.to_owned()),
        ..RegisterRequest::default()
    })
    .unwrap()
    .incarnation
}

fn beat(svc: &Service, id: &str) {
    let beat = coord_core::Beat::activity(Source::Cli, svc.now().unwrap());
    svc.heartbeat(id, &beat).unwrap();
}

fn state(svc: &Service, id: &str) -> Option<State> {
    let fleet = svc.fleet().unwrap();
    fleet
        .entries
        .iter()
        .find(|e| e.session.id == id)
        .map(|e| e.verdict.state)
}

fn token_of(svc: &Service, task: &str) -> u64 {
    match svc.task(task).unwrap().state {
        TaskState::Claimed { token, .. } => token,
        other => panic!("{task} is {other:?}"),
    }
}

fn add(svc: &Service, id: &str) {
    svc.task_add(NewTask {
        id: id.into(),
        title: "work".into(),
        ..NewTask::default()
    })
    .unwrap();
}

#[test]
fn a_holder_dies_its_work_goes_on_and_the_zombie_is_fenced() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let alice_inc = join(&server, "alice");
    join(&server, "bob");
    add(&server, "t1");
    server.task_claim("alice", Some("t1"), LEASE).unwrap();
    let zombie_token = token_of(&server, "t1");
    let step = TaskOp::Progress(Some(serde_json::json!({"step": 4})), LEASE);
    server.task_update("t1", zombie_token, &step).unwrap();

    // alice's watcher sees her process die.
    fleet.wait(Duration::from_secs(10));
    server
        .watch_exit("alice", alice_inc, ExitStatus::Signal(9), Source::Watch)
        .unwrap();
    assert_eq!(state(&server, "alice"), Some(State::Dead));
    // Within the grace period nothing is taken.
    fleet.wait(Duration::from_secs(30));
    let report = server.check_health(100).unwrap();
    assert!(
        report.evicted.is_empty() && report.released.is_empty(),
        "{report:?}"
    );
    // Past it: evicted, and her task back in the queue, held back by the lock-delay.
    fleet.wait(MIN);
    let report = server.check_health(100).unwrap();
    assert_eq!(
        (report.evicted.len(), report.released.len()),
        (1, 1),
        "{report:?}"
    );
    let delayed = server.task_claim("bob", Some("t1"), LEASE).unwrap_err();
    assert!(
        matches!(delayed, ServiceError::Task(TaskError::Delayed { .. })),
        "{delayed}"
    );
    fleet.wait(Duration::from_secs(6));
    let claimed = server.task_claim("bob", Some("t1"), LEASE).unwrap();
    assert_eq!(
        claimed.progress,
        Some(serde_json::json!({"step": 4})),
        "bob resumes"
    );
    let bob_token = token_of(&server, "t1");
    assert!(bob_token > zombie_token);

    // alice comes back from the dead and tries to finish: refused, nothing changes.
    let before = server.task("t1").unwrap();
    let refused = server
        .task_update("t1", zombie_token, &TaskOp::Complete)
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::Task(TaskError::StaleToken { .. })),
        "{refused}"
    );
    assert_eq!(server.task("t1").unwrap(), before);
    server
        .task_update("t1", bob_token, &TaskOp::Complete)
        .unwrap();
}

#[test]
fn a_lost_leader_hands_the_lease_to_the_longest_registered_live_session() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let a = join(&server, "a");
    fleet.wait(Duration::from_secs(1));
    join(&server, "b");
    fleet.wait(Duration::from_secs(1));
    join(&server, "c");
    assert!(server.lead("a", DEFAULT_LEADER_LEASE).unwrap().is("a"));
    assert!(!server.lead("c", DEFAULT_LEADER_LEASE).unwrap().is("c"));
    let (_, first_term) = server.leadership().unwrap().leader.unwrap();

    server
        .watch_exit("a", a, ExitStatus::Gone, Source::Watch)
        .unwrap();
    fleet.wait(2 * MIN);
    beat(&server, "b");
    beat(&server, "c");
    let report = server.check_health(100).unwrap();
    assert_eq!(report.evicted.len(), 1, "{report:?}");
    assert_eq!(report.leader, None, "the lease waits out the lock-delay");
    fleet.wait(Duration::from_secs(6));
    let report = server.check_health(100).unwrap();
    assert_eq!(report.leader.as_deref(), Some("b"), "{report:?}");
    let (leader, term) = server.leadership().unwrap().leader.unwrap();
    assert_eq!(leader, "b");
    assert!(term > first_term, "a new term");
}

#[test]
fn sessions_asking_for_the_lease_together_are_answered_as_if_each_asked_in_turn() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    for id in ["a", "b", "c"] {
        join(&server, id);
    }
    // Nobody leads: the first of them takes the lease.
    let taken = server
        .lead_among(&["b", "a"], DEFAULT_LEADER_LEASE)
        .unwrap();
    assert!(taken.is("b"), "{taken:?}");
    let (_, term) = taken.leader.clone().unwrap();
    fleet.wait(DEFAULT_LEADER_LEASE / 2);
    // The leader among them renews it, in the same term, wherever it stands.
    let renewed = server
        .lead_among(&["c", "b"], DEFAULT_LEADER_LEASE)
        .unwrap();
    assert_eq!(renewed.leader, Some(("b".to_owned(), term)));
    fleet.wait(DEFAULT_LEADER_LEASE * 3 / 4);
    assert!(
        server.leadership().unwrap().is("b"),
        "renewed: the lease outlives its first term's end"
    );
    // The others only learn who leads.
    let followers = server
        .lead_among(&["a", "c"], DEFAULT_LEADER_LEASE)
        .unwrap();
    assert_eq!(followers.leader, Some(("b".to_owned(), term)));
}

#[test]
fn a_laptop_that_sleeps_an_hour_wakes_to_its_sessions_and_its_work() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let laptop = fleet.on("laptop");
    join(&laptop, "lap");
    join(&server, "srv");
    add(&server, "t1");
    server.task_claim("lap", Some("t1"), 2 * LEASE).unwrap();
    let token = token_of(&server, "t1");

    // The laptop sleeps an hour; the server keeps beating and sweeping.
    for _ in 0..12 {
        fleet.wait(5 * MIN);
        beat(&server, "srv");
        server.check_health(100).unwrap();
    }
    assert_eq!(
        state(&server, "lap"),
        Some(State::Unknown),
        "silent with its host: not dead"
    );
    assert_eq!(token_of(&server, "t1"), token, "its work was not taken");

    // It wakes, beats, and finishes its work under its own token.
    beat(&laptop, "lap");
    assert_eq!(state(&server, "lap"), Some(State::Active));
    server.task_update("t1", token, &TaskOp::Complete).unwrap();
}

#[test]
fn after_a_partition_heals_a_silent_session_has_a_ttl_to_be_heard_then_its_work_moves() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let east = fleet.on("east");
    join(&east, "e1");
    join(&east, "e2");
    join(&server, "srv");
    add(&server, "t1");
    server.task_claim("e1", Some("t1"), LEASE).unwrap();

    // East is cut off for 40 minutes: its sessions are unknown, not dead.
    fleet.wait(40 * MIN);
    beat(&server, "srv");
    server.check_health(100).unwrap();
    assert_eq!(state(&server, "e1"), Some(State::Unknown));
    assert_eq!(server.task("t1").unwrap().state.name(), "claimed");

    // The partition heals: e2 is heard again, e1 not yet. Its silence proves nothing yet: it
    // could not be heard while east was cut off, so it has a full TTL from now.
    beat(&east, "e2");
    let report = server.check_health(100).unwrap();
    assert!(report.evicted.is_empty(), "{report:?}");
    assert_eq!(state(&server, "e1"), Some(State::Unknown));

    // East is heard all along (every 4 minutes: a host silent that long may have been frozen,
    // so e1's silence counts beyond that) for a TTL and those 4 minutes, e1 never: now its
    // silence is its own. Dead, evicted at the next look after the grace, and its work moves.
    for round in 1..=9 {
        fleet.wait(4 * MIN);
        beat(&east, "e2");
        beat(&server, "srv");
        if round == 7 {
            assert_eq!(state(&server, "e1"), Some(State::Unknown), "28 min after");
        }
    }
    let report = server.check_health(100).unwrap();
    let evicted: Vec<&str> = report.evicted.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(evicted, ["e1"], "{report:?}");
    fleet.wait(Duration::from_secs(6));
    let assigned = server.assign(LEASE).unwrap();
    assert!(
        assigned
            .get("t1")
            .is_some_and(|to| to == "e2" || to == "srv"),
        "{assigned:?}"
    );
}

#[test]
fn a_store_down_longer_than_the_ttl_kills_no_session() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let east = fleet.on("east");
    join(&east, "quiet");
    join(&east, "busy");
    join(&server, "srv");
    add(&server, "t1");
    server.task_claim("quiet", Some("t1"), LEASE).unwrap();
    let token = token_of(&server, "t1");
    // `quiet` waits for its next prompt; `busy` works on.
    fleet.wait(10 * MIN);
    beat(&east, "busy");

    // The store is down for 40 minutes: nobody is heard. It comes back, and the first to
    // reach it are `busy` and the leader, which sweeps.
    fleet.wait(40 * MIN);
    beat(&east, "busy");
    beat(&server, "srv");
    let report = server.check_health(100).unwrap();
    assert!(report.evicted.is_empty(), "{report:?}");
    assert_eq!(state(&server, "quiet"), Some(State::Unknown));

    // Its next prompt comes: it is there, with its work.
    fleet.wait(10 * MIN);
    beat(&east, "quiet");
    assert_eq!(state(&server, "quiet"), Some(State::Active));
    assert_eq!(token_of(&server, "t1"), token);
    server.task_update("t1", token, &TaskOp::Complete).unwrap();
}

/// The `host` events logged so far: (host, what it became).
fn host_events(svc: &Service) -> Vec<(String, String)> {
    svc.events(0, 10_000)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            coord_core::EventKind::Host { became, .. } => Some((e.session, became)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_machine_that_dies_is_lost_after_host_lost_after_and_its_work_and_lease_move_on() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let east = fleet.on("east");
    join(&east, "e1");
    join(&server, "srv");
    add(&server, "t1");
    server.task_claim("e1", Some("t1"), 4 * LEASE).unwrap();
    let zombie = token_of(&server, "t1");
    assert!(east.lead("e1", DEFAULT_LEADER_LEASE).unwrap().is("e1"));

    // East dies. The server is heard every five minutes and sweeps; for two hours east is
    // only silent.
    for _ in 0..24 {
        fleet.wait(5 * MIN);
        beat(&server, "srv");
        let report = server.check_health(100).unwrap();
        assert!(report.evicted.is_empty(), "{report:?}");
    }
    assert_eq!(state(&server, "e1"), Some(State::Unknown));
    fleet.wait(Duration::from_secs(30));
    beat(&server, "srv");
    // Lost: dead, and noted once by the sweep `ps` makes in passing; evicted after the grace.
    assert_eq!(state(&server, "e1"), Some(State::Dead));
    assert_eq!(
        host_events(&server),
        [("east".to_owned(), "lost".to_owned())]
    );
    fleet.wait(MIN);
    beat(&server, "srv");
    let report = server.check_health(100).unwrap();
    assert!(report.hosts.is_empty(), "noted once: {report:?}");
    let evicted: Vec<&str> = report.evicted.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(evicted, ["e1"], "{report:?}");
    assert!(report.evicted[0].1.contains("host east lost"), "{report:?}");
    fleet.wait(Duration::from_secs(6));
    assert_eq!(server.assign(LEASE).unwrap()["t1"], "srv");
    let report = server.check_health(100).unwrap();
    assert_eq!(report.leader.as_deref(), Some("srv"), "{report:?}");

    // East comes back: its agent re-registers as a new incarnation (and the sweep that makes
    // in passing notes that east rejoined), and the zombie's completion is refused.
    let beat_again = coord_core::Beat::activity(Source::Cli, east.now().unwrap());
    assert!(
        east.heartbeat("e1", &beat_again).is_err(),
        "evicted: unknown"
    );
    join(&east, "e1");
    assert!(matches!(
        east.task_update("t1", zombie, &TaskOp::Complete),
        Err(ServiceError::Task(TaskError::StaleToken { .. }))
    ));
    fleet.wait(MIN);
    assert!(server.check_health(100).unwrap().hosts.is_empty());
    assert_eq!(
        host_events(&server),
        [
            ("east".to_owned(), "lost".to_owned()),
            ("east".to_owned(), "rejoined".to_owned())
        ]
    );
}

#[test]
fn a_laptop_that_said_it_sleeps_is_never_lost_within_host_asleep_max() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let laptop = fleet.on("laptop");
    join(&laptop, "lap");
    join(&server, "srv");
    add(&server, "t1");
    server.task_claim("lap", Some("t1"), 24 * LEASE).unwrap();
    let token = token_of(&server, "t1");
    laptop.announce(coord_service::hosts::Said::Sleep).unwrap();

    // Asleep for ten hours, five past host_lost_after.
    for _ in 0..120 {
        fleet.wait(5 * MIN);
        beat(&server, "srv");
        server.check_health(100).unwrap();
    }
    assert_eq!(state(&server, "lap"), Some(State::Unknown));
    let (_, hosts) = server.host_table().unwrap();
    let lap = hosts.iter().find(|h| h.name == "laptop").unwrap();
    assert_eq!(lap.verdict.state, coord_core::HostState::Asleep);
    assert_eq!(token_of(&server, "t1"), token);

    // It wakes and says so; its session works on under its own token.
    laptop.announce(coord_service::hosts::Said::Wake).unwrap();
    beat(&laptop, "lap");
    assert_eq!(state(&server, "lap"), Some(State::Active));
    server.task_update("t1", token, &TaskOp::Complete).unwrap();
    assert_eq!(
        host_events(&server),
        [
            ("laptop".to_owned(), "asleep".to_owned()),
            ("laptop".to_owned(), "awake".to_owned())
        ]
    );
}

#[test]
fn a_store_down_longer_than_host_lost_after_loses_no_host() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let east = fleet.on("east");
    join(&east, "e1");
    join(&server, "srv");
    add(&server, "t1");
    server.task_claim("e1", Some("t1"), 8 * LEASE).unwrap();
    let token = token_of(&server, "t1");

    // Nobody reaches the store for three hours; the server is the first back, and sweeps.
    fleet.wait(180 * MIN);
    beat(&server, "srv");
    let report = server.check_health(100).unwrap();
    assert!(
        report.evicted.is_empty() && report.hosts.is_empty(),
        "{report:?}"
    );
    assert_eq!(state(&server, "e1"), Some(State::Unknown));
    // East is back within host_lost_after of the store's return: nothing was lost.
    fleet.wait(60 * MIN);
    beat(&east, "e1");
    beat(&server, "srv");
    assert!(server.check_health(100).unwrap().evicted.is_empty());
    assert_eq!(token_of(&server, "t1"), token);
}

#[test]
fn a_host_that_shuts_down_hands_its_work_on_in_seconds() {
    let fleet = Fleet::new();
    let server = fleet.on("server");
    let east = fleet.on("east");
    join(&east, "e1");
    join(&east, "e2");
    join(&server, "srv");
    add(&server, "t1");
    server.task_claim("e1", Some("t1"), LEASE).unwrap();

    let done = east.announce(coord_service::hosts::Said::Shutdown).unwrap();
    assert_eq!(done.ended, ["e1", "e2"]);
    assert_eq!(done.released, ["t1"]);
    assert_eq!(state(&server, "e1"), Some(State::Ended));
    fleet.wait(Duration::from_secs(6));
    assert_eq!(server.assign(LEASE).unwrap()["t1"], "srv");
    let (_, hosts) = server.host_table().unwrap();
    let east_row = hosts.iter().find(|h| h.name == "east").unwrap();
    assert_eq!(east_row.verdict.state, coord_core::HostState::Down);
}

#[test]
fn coord_itself_leads_but_is_never_handed_work() {
    let fleet = Fleet::new();
    let svc = fleet.on("a");
    svc.register(RegisterRequest {
        id: Some("coord-serve@a".to_owned()),
        labels: [(coord_core::ROLE_LABEL.to_owned(), "serve".to_owned())].into(),
        ..RegisterRequest::default()
    })
    .unwrap();
    add(&svc, "t1");
    assert!(svc.assign(LEASE).unwrap().is_empty());
    join(&svc, "worker");
    let assigned = svc.assign(LEASE).unwrap();
    assert_eq!(assigned.get("t1").map(String::as_str), Some("worker"));
}
