//! The conformance suite on the embedded SQLite store, with brief handles (the hook path's)
//! and with lasting ones (the server's), plus what only that store promises.

mod conformance;

use coord_store::sqlite::SqliteStore;
use coord_store::{Config, Store, StoreError};

struct Sqlite {
    dir: tempfile::TempDir,
    lasting: bool,
}

impl Sqlite {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            lasting: false,
        }
    }

    /// A store whose handles are all lasting ones ([`Config::lasting`]).
    fn lasting() -> Self {
        Self {
            lasting: true,
            ..Self::new()
        }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("state/coord/coord.db")
    }
}

impl conformance::Backend for Sqlite {
    fn open_with(&self, config: Config) -> Box<dyn Store> {
        let config = if self.lasting {
            config.lasting()
        } else {
            config
        };
        Box::new(SqliteStore::open(&self.path(), &config).unwrap())
    }
}

conformance_suite!(Sqlite::new());

/// The suite again on lasting handles, which start each change from the sessions they wrote
/// last while no other connection has committed: every check with several handles
/// (concurrent heartbeats, namespaces, groups) then proves that another's commit is seen.
mod lasting {
    use super::{Sqlite, conformance};
    use crate::conformance_suite;
    conformance_suite!(Sqlite::lasting());
}

/// A clock that moves only when told, from a whole second, and the config of a handle that
/// reads it.
fn manual_clock() -> (coord_store::Clock, Config) {
    let clock = coord_store::Clock::manual(coord_core::Timestamp::from_millis(1_800_000_000_000));
    let config = Config {
        clock: clock.clone(),
        ..Config::new("default")
    };
    (clock, config)
}

/// Both kinds of handle, for the checks that hold for each.
fn both_kinds() -> [Config; 2] {
    [Config::new("default"), Config::new("default").lasting()]
}

#[test]
fn a_new_store_is_private_and_in_wal_mode() {
    use std::os::unix::fs::PermissionsExt;
    let backend = Sqlite::new();
    let store = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(store.path().parent().unwrap()), 0o700);
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

#[test]
fn a_store_from_a_newer_coord_is_refused() {
    let backend = Sqlite::new();
    drop(SqliteStore::open(&backend.path(), &Config::new("default")).unwrap());
    let conn = rusqlite::Connection::open(backend.path()).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&backend.path(), &Config::new("default"))
        .err()
        .unwrap();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_an_error_and_left_alone() {
    let backend = Sqlite::new();
    let path = backend.path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let garbage = b"this is not an sqlite database, and it must stay as it is\n".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    assert!(SqliteStore::open(&path, &Config::new("default")).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn a_new_store_opened_by_many_at_once_is_made_once_and_opens_for_all() {
    use coord_core::{Beat, Source};
    for _ in 0..5 {
        let backend = Sqlite::new();
        let path = backend.path();
        std::thread::scope(|scope| {
            for i in 0..12 {
                let path = &path;
                scope.spawn(move || {
                    let store = SqliteStore::open(path, &Config::new("default"))
                        .unwrap_or_else(|e| panic!("opener {i}: {e}"));
                    let now = store.now().unwrap();
                    store
                        .heartbeat("nobody", &Beat::activity(Source::Cli, now))
                        .unwrap();
                });
            }
        });
        let dir = std::fs::read_dir(path.parent().unwrap()).unwrap();
        let names: Vec<String> = dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains(".new-")), "{names:?}");
    }
}

#[test]
fn a_group_is_one_transaction_that_lands_nothing_if_its_work_panics() {
    for config in both_kinds() {
        a_group_lands_nothing_if_its_work_panics(&config);
    }
}

fn a_group_lands_nothing_if_its_work_panics(config: &Config) {
    use coord_core::{Beat, Source};
    let backend = Sqlite::new();
    let store = SqliteStore::open(&backend.path(), config).unwrap();
    let other = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let beat = |s: &SqliteStore| Beat::activity(Source::Cli, s.now().unwrap());
    store.register(&registration("g")).unwrap();

    // Inside the group, another connection sees none of it yet: one transaction.
    store
        .grouped(&mut || {
            store.heartbeat("g", &beat(&store)).unwrap();
            store.heartbeat("g", &beat(&store)).unwrap();
            assert_eq!(other.session("g").unwrap().unwrap().beats, 0);
        })
        .unwrap();
    assert_eq!(other.session("g").unwrap().unwrap().beats, 2);

    // A panic inside the group rolls the whole group back, and the handle works on.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.grouped(&mut || {
            store.heartbeat("g", &beat(&store)).unwrap();
            panic!("a bug in the middle of a batch");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(other.session("g").unwrap().unwrap().beats, 2);
    assert_eq!(
        store.heartbeat("g", &beat(&store)).unwrap().unwrap().beats,
        3
    );
}

#[test]
fn a_change_that_fails_after_writing_fails_its_whole_group() {
    for config in both_kinds() {
        a_change_failing_after_writing_fails_its_group(&config);
    }
}

fn a_change_failing_after_writing_fails_its_group(config: &Config) {
    use coord_core::{Beat, Source};
    let backend = Sqlite::new();
    let store = SqliteStore::open(&backend.path(), config).unwrap();
    let other = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let beat = |s: &SqliteStore| Beat::activity(Source::Cli, s.now().unwrap());
    for id in ["good", "bad"] {
        store.register(&registration(id)).unwrap();
    }
    // The disk refuses the event of one session's end, after its record was written.
    rusqlite::Connection::open(backend.path())
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.session = 'bad' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let mut outcomes = Vec::new();
    let group = store.grouped(&mut || {
        outcomes.push(store.heartbeat("good", &beat(&store)).map(|s| s.is_some()));
        outcomes.push(store.unregister("bad", Source::Cli).map(|s| s.is_some()));
        outcomes.push(store.heartbeat("good", &beat(&store)).map(|s| s.is_some()));
    });
    assert!(
        matches!(group, Err(StoreError::GroupFailed(_))),
        "{group:?}"
    );
    assert!(matches!(
        outcomes[..],
        [Ok(true), Err(_), Err(StoreError::GroupFailed(_))]
    ));
    // Nothing of the group landed: not the first heartbeat, not the end's record.
    assert_eq!(other.session("good").unwrap().unwrap().beats, 0);
    assert_eq!(
        other.session("bad").unwrap().unwrap().phase,
        coord_core::Phase::Working
    );
    // The handle works on, and a group without the failure lands.
    store
        .grouped(&mut || {
            store.heartbeat("good", &beat(&store)).unwrap();
        })
        .unwrap();
    assert_eq!(other.session("good").unwrap().unwrap().beats, 1);
}

/// A plain working session `id`.
fn registration(id: &str) -> coord_core::Registration {
    coord_core::Registration {
        id: id.into(),
        parent: None,
        host: "h".into(),
        pid: None,
        pid_start: None,
        boot_id: None,
        runtime: coord_core::Runtime::Other,
        task: String::new(),
        cwd: None,
        labels: std::collections::BTreeMap::new(),
        log_path: None,
        policy: coord_core::PolicyOverrides::default(),
        phase: coord_core::Phase::Working,
        source: coord_core::Source::Cli,
        restart: false,
    }
}

#[test]
fn a_host_heard_again_after_a_silence_is_heard_without_a_gap_from_then() {
    use coord_core::{Beat, HOST_GAP, Source};
    use std::time::Duration;
    let backend = Sqlite::new();
    let (clock, config) = manual_clock();
    let store = SqliteStore::open(&backend.path(), &config).unwrap();
    let beat = || Beat::activity(Source::Cli, clock.now());
    let first = store.register(&registration("a")).unwrap().last_seen;
    clock.advance(Duration::from_secs(60));
    store.heartbeat("a", &beat()).unwrap();
    let heard = store.host_heard("h").unwrap().unwrap();
    assert_eq!((heard.last, heard.since), (clock.now(), first));

    // Every session of the host silent past the gap (the store down, the host asleep).
    clock.advance(HOST_GAP + Duration::from_secs(60));
    store.register(&registration("b")).unwrap();
    let heard = store.host_heard("h").unwrap().unwrap();
    assert_eq!((heard.last, heard.since), (clock.now(), clock.now()));

    // Heard again within the gap: still without a gap since then.
    let back = clock.now();
    clock.advance(HOST_GAP.saturating_sub(Duration::from_secs(1)));
    store.heartbeat("a", &beat()).unwrap();
    assert_eq!(store.host_heard("h").unwrap().unwrap().since, back);
}

#[test]
fn a_store_of_the_previous_schema_is_migrated_with_its_hosts_heard_all_along() {
    let backend = Sqlite::new();
    let store = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let seen = store.register(&registration("old")).unwrap().last_seen;
    drop(store);
    // Back to version 2, as an earlier coord left it.
    rusqlite::Connection::open(backend.path())
        .unwrap()
        .execute_batch(
            "DROP INDEX tasks_open;
             DROP INDEX tasks_finished;
             ALTER TABLE tasks DROP COLUMN finished;
             DROP INDEX tasks_waiting;
             ALTER TABLE tasks DROP COLUMN waits;
             ALTER TABLE sessions ADD COLUMN host TEXT NOT NULL DEFAULT 'h';
             ALTER TABLE sessions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
             UPDATE sessions SET last_seen = (SELECT p.last_seen FROM pulses p
                 WHERE p.ns = sessions.ns AND p.id = sessions.id);
             DROP TABLE pulses;
             CREATE INDEX sessions_by_last_seen ON sessions (ns, last_seen);
             DROP TABLE hosts;
             CREATE INDEX sessions_by_host ON sessions (ns, host, last_seen);
             CREATE INDEX tasks_by_age ON tasks (ns, created, id);
             PRAGMA user_version = 2;",
        )
        .unwrap();
    let store = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let heard = store.host_heard("h").unwrap().unwrap();
    assert_eq!(heard.last, seen);
    assert_eq!(heard.since, coord_core::Timestamp::from_millis(0));
    assert_eq!(store.session("old").unwrap().unwrap().last_seen, seen);
}

#[test]
fn a_lasting_handle_starts_each_change_from_what_others_committed() {
    use coord_core::{Beat, Phase, Source};
    let backend = Sqlite::new();
    let lasting = SqliteStore::open(&backend.path(), &Config::new("default").lasting()).unwrap();
    let brief = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let beat = |s: &SqliteStore| Beat::activity(Source::Api, s.now().unwrap());
    lasting.register(&registration("s")).unwrap();
    assert_eq!(
        lasting
            .heartbeat("s", &beat(&lasting))
            .unwrap()
            .unwrap()
            .beats,
        1
    );
    // Another connection beats in between: the lasting handle's copy is no longer the row.
    assert_eq!(
        brief.heartbeat("s", &beat(&brief)).unwrap().unwrap().beats,
        2
    );
    let s = lasting.heartbeat("s", &beat(&lasting)).unwrap().unwrap();
    assert_eq!(
        (s.beats, s.revision),
        (3, brief.session("s").unwrap().unwrap().revision)
    );
    // Another connection ends it: the lasting handle's heartbeat is refused.
    brief.unregister("s", Source::Cli).unwrap();
    assert!(lasting.heartbeat("s", &beat(&lasting)).unwrap().is_none());
    assert_eq!(lasting.session("s").unwrap().unwrap().phase, Phase::Ended);
    // Another connection evicts it: the lasting handle registers it afresh.
    let stored = brief.session("s").unwrap().unwrap();
    assert!(brief.evict("s", stored.revision, "test").unwrap());
    let again = lasting.register(&registration("s")).unwrap();
    assert_eq!((again.incarnation, again.beats), (1, 0));
    // And it evicts by the revision the row holds, not one it remembers.
    let stale = lasting
        .heartbeat("s", &beat(&lasting))
        .unwrap()
        .unwrap()
        .revision;
    brief.heartbeat("s", &beat(&brief)).unwrap();
    assert!(!lasting.evict("s", stale, "test").unwrap());
}

#[test]
fn brief_handles_leave_the_log_to_a_lasting_one_and_bound_it_without_one() {
    use coord_core::{Beat, Source};
    let backend = Sqlite::new();
    let wal = {
        let mut p = backend.path().into_os_string();
        p.push("-wal");
        std::path::PathBuf::from(p)
    };
    let wal_len = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let brief = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let ids: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
    for id in &ids {
        brief.register(&registration(id)).unwrap();
    }
    let beat_all = |store: &SqliteStore| {
        for id in &ids {
            store
                .heartbeat(id, &Beat::activity(Source::Cli, store.now().unwrap()))
                .unwrap();
        }
    };
    // Alone, brief writers keep the log under 256 KiB.
    beat_all(&brief);
    assert!(wal_len() <= 256 * 1024 + 64 * 1024, "{}", wal_len());

    // With a lasting handle open, they let it grow: the lasting process keeps it.
    let lasting = SqliteStore::open(&backend.path(), &Config::new("default").lasting()).unwrap();
    beat_all(&brief);
    beat_all(&brief);
    assert!(wal_len() > 512 * 1024, "{}", wal_len());

    // The last lasting handle to close leaves it truncated; brief writers bound it again.
    let other = SqliteStore::open(&backend.path(), &Config::new("other").lasting()).unwrap();
    drop(other);
    assert!(wal_len() > 512 * 1024, "{}", wal_len());
    drop(lasting);
    assert_eq!(wal_len(), 0);
    beat_all(&brief);
    assert!(wal_len() <= 256 * 1024 + 64 * 1024, "{}", wal_len());
}

#[test]
fn a_store_of_whole_records_is_read_and_beaten_after_its_migration() {
    use coord_core::{Beat, Source};
    for config in both_kinds() {
        let backend = Sqlite::new();
        let store = SqliteStore::open(&backend.path(), &config).unwrap();
        store.register(&registration("old")).unwrap();
        let now = store.now().unwrap();
        store
            .heartbeat("old", &Beat::activity(Source::Api, now))
            .unwrap();
        // A record written whole (as the unregister of another session forces), then back to
        // version 3, which stored records only whole.
        let seen = store.session("old").unwrap().unwrap();
        drop(store);
        let conn = rusqlite::Connection::open(backend.path()).unwrap();
        let record = serde_json::to_string(&seen).unwrap();
        conn.execute("UPDATE sessions SET record = ?1", [record])
            .unwrap();
        conn.execute_batch(
            "DROP INDEX tasks_open;
             DROP INDEX tasks_finished;
             ALTER TABLE tasks DROP COLUMN finished;
             DROP INDEX tasks_waiting;
             ALTER TABLE tasks DROP COLUMN waits;
             ALTER TABLE sessions ADD COLUMN host TEXT NOT NULL DEFAULT 'h';
             ALTER TABLE sessions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
             UPDATE sessions SET last_seen = json_extract(record, '$.last_seen');
             DROP TABLE pulses;
             CREATE INDEX sessions_by_last_seen ON sessions (ns, last_seen);
             ALTER TABLE hosts DROP COLUMN notice;
             ALTER TABLE hosts DROP COLUMN pause;
             PRAGMA user_version = 3;",
        )
        .unwrap();
        drop(conn);
        let store = SqliteStore::open(&backend.path(), &config).unwrap();
        assert_eq!(store.session("old").unwrap().unwrap(), seen);
        let now = store.now().unwrap();
        let beaten = store
            .heartbeat("old", &Beat::activity(Source::Api, now))
            .unwrap()
            .unwrap();
        assert_eq!(
            (beaten.beats, beaten.revision),
            (seen.beats + 1, seen.revision + 1)
        );
        assert_eq!(store.session("old").unwrap().unwrap(), beaten);
    }
}

#[test]
fn quiet_sessions_come_longest_silent_first_however_close_their_signals() {
    use coord_core::{Beat, Source};
    use std::time::Duration;
    let backend = Sqlite::new();
    let (clock, config) = manual_clock();
    let lasting = SqliteStore::open(&backend.path(), &config.clone().lasting()).unwrap();
    let brief = SqliteStore::open(&backend.path(), &config).unwrap();
    // Twelve sessions registered over 3 s, beaten in the order of their ids, then again a few
    // milliseconds apart in another order, by both kinds of handle: within one second, so that
    // the second round leaves the `last_seen` column (and its index) in the first's order.
    let ids: Vec<String> = (0..12).map(|i| format!("s{i:02}")).collect();
    for id in &ids {
        lasting.register(&registration(id)).unwrap();
        clock.advance(Duration::from_millis(250));
    }
    for id in &ids {
        brief
            .heartbeat(id, &Beat::activity(Source::Api, clock.now()))
            .unwrap()
            .unwrap();
        clock.advance(Duration::from_millis(1));
    }
    clock.advance(Duration::from_millis(100));
    let mut expected = Vec::new();
    for (n, i) in [7, 2, 11, 0, 5, 9, 3, 10, 1, 8, 4, 6]
        .into_iter()
        .enumerate()
    {
        let store = if n % 2 == 0 { &lasting } else { &brief };
        store
            .heartbeat(&ids[i], &Beat::activity(Source::Api, clock.now()))
            .unwrap()
            .unwrap();
        expected.push((clock.now(), ids[i].clone()));
        clock.advance(Duration::from_millis(7));
    }
    for (cut, limit) in [
        (12, 12),
        (12, 5),
        (12, 1),
        (6, 12),
        (6, 3),
        (1, 12),
        (0, 12),
    ] {
        let before = match expected.get(cut) {
            Some((at, _)) => *at,
            None => clock.now(),
        };
        let want: Vec<&str> = expected[..cut]
            .iter()
            .take(limit)
            .map(|(_, id)| id.as_str())
            .collect();
        for store in [&lasting, &brief] {
            let got = store.quiet_since(before, limit).unwrap();
            let got: Vec<&str> = got.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(got, want, "before the {cut}th beat, at most {limit}");
        }
    }
    assert!(lasting.quiet_since(clock.now(), 0).unwrap().is_empty());
}

#[test]
fn a_lasting_handle_reads_a_task_in_a_group_as_the_store_holds_it() {
    use coord_core::{NewTask, Task};
    let backend = Sqlite::new();
    let lasting = SqliteStore::open(&backend.path(), &Config::new("default").lasting()).unwrap();
    let brief = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let spec = NewTask {
        id: "t".to_owned(),
        title: "the work".to_owned(),
        ..NewTask::default()
    };
    let first = Task::new(&spec, brief.now().unwrap());
    assert!(brief.put_task(&first, None, &[]).unwrap());
    let changed = |t: &Task, title: &str| Task {
        title: title.to_owned(),
        revision: t.revision + 1,
        ..t.clone()
    };
    let read_in_group = |store: &SqliteStore| {
        let mut read = None;
        store
            .grouped(&mut || read = store.task("t").unwrap())
            .unwrap();
        read.unwrap()
    };
    assert_eq!(read_in_group(&lasting), first);

    // Another connection changes it between two groups: the second reads the change.
    let second = changed(&first, "changed elsewhere");
    assert!(brief.put_task(&second, Some(first.revision), &[]).unwrap());
    assert_eq!(read_in_group(&lasting), second);

    // Within a group, a read follows the group's own change.
    let third = changed(&second, "changed in the group");
    lasting
        .grouped(&mut || {
            assert!(
                lasting
                    .put_task(&third, Some(second.revision), &[])
                    .unwrap()
            );
            assert_eq!(lasting.task("t").unwrap().unwrap(), third);
        })
        .unwrap();
    assert_eq!(brief.task("t").unwrap().unwrap(), third);

    // A group that does not land leaves no trace of its change.
    let lost = changed(&third, "never landed");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lasting.grouped(&mut || {
            assert!(lasting.put_task(&lost, Some(third.revision), &[]).unwrap());
            panic!("a bug in the middle of a batch");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(read_in_group(&lasting), third);
}

#[test]
fn tasks_of_the_previous_schema_wait_in_the_queue_after_the_migration() {
    use coord_core::{NewTask, Task};
    use coord_store::{ClaimOutcome, ClaimRequest};
    let backend = Sqlite::new();
    let store = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let now = store.now().unwrap();
    for id in ["old", "newer", "finished"] {
        let spec = NewTask {
            id: id.to_owned(),
            title: "work".to_owned(),
            ..NewTask::default()
        };
        let mut t = Task::new(&spec, now);
        if id == "finished" {
            t.claim("s", 1, std::time::Duration::from_secs(60), now)
                .unwrap();
            t.complete(1, now).unwrap();
        }
        assert!(store.put_task(&t, None, &[]).unwrap());
    }
    drop(store);
    // Back to version 5, which kept no index of the waiting, open or finished tasks.
    rusqlite::Connection::open(backend.path())
        .unwrap()
        .execute_batch(
            "DROP INDEX tasks_open;
             DROP INDEX tasks_finished;
             ALTER TABLE tasks DROP COLUMN finished;
             DROP INDEX tasks_waiting;
             ALTER TABLE tasks DROP COLUMN waits;
             ALTER TABLE hosts DROP COLUMN pause;
             PRAGMA user_version = 5;",
        )
        .unwrap();
    let store = SqliteStore::open(&backend.path(), &Config::new("default")).unwrap();
    let labels = std::collections::BTreeMap::new();
    let claim = ClaimRequest {
        session: "s",
        incarnation: 1,
        labels: &labels,
        task: None,
        lease: std::time::Duration::from_secs(60),
    };
    let mut claimed: Vec<String> = (0..2)
        .map(|_| match store.claim_task(&claim).unwrap() {
            ClaimOutcome::Claimed(t) => t.id,
            other => panic!("{other:?}"),
        })
        .collect();
    claimed.sort();
    assert_eq!(claimed, ["newer", "old"]);
    assert_eq!(
        store.claim_task(&claim).unwrap(),
        ClaimOutcome::NothingWaits
    );
    let open: Vec<String> = store
        .open_tasks()
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(open, ["newer", "old"]);
    let finished = store.finished_tasks(10).unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].id, "finished");
}
