//! The conformance suite on the Redis store (a private `redis-server` per test), plus what only
//! that store promises: scripts that apply the core's rules exactly, survive a flushed script
//! cache and a broken connection, keys under the namespace's hash tag, the server's clock, and
//! a bounded wait for a server that does not answer.

mod conformance;
mod support;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use coord_core::{
    Beat, BeatKind, EventKind, ExitStatus, Phase, PolicyOverrides, Registration, Runtime, Session,
    Source, Timestamp,
};
use coord_store::redis::RedisStore;
use coord_store::{Config, Store, StoreError, StoreUrl};
use support::{RedisServer, TlsCerts, run_in_child};

struct Redis {
    server: RedisServer,
}

impl Redis {
    fn new() -> Self {
        Self {
            server: RedisServer::start(),
        }
    }
}

impl conformance::Backend for Redis {
    fn open_with(&self, config: Config) -> Box<dyn Store> {
        Box::new(RedisStore::open(&self.server.url(), &config).unwrap())
    }
}

conformance_suite!(Redis::new());

fn open(server: &RedisServer, namespace: &str) -> RedisStore {
    RedisStore::open(&server.url(), &Config::new(namespace)).unwrap()
}

fn registration(id: &str) -> Registration {
    Registration {
        id: id.to_owned(),
        parent: None,
        host: "hôte-ü".to_owned(),
        pid: Some(4242),
        pid_start: Some(123_456),
        boot_id: Some("boot-1".to_owned()),
        runtime: Runtime::Codex,
        task: "a \"quoted\" task / ünïcode".to_owned(),
        cwd: Some("/work".to_owned()),
        labels: BTreeMap::new(),
        log_path: None,
        policy: PolicyOverrides::default(),
        phase: Phase::Waiting,
        source: Source::Hook,
        restart: false,
    }
}

/// The time the store gave the last change `source` made: every change records its source's
/// signal at the server's `now`.
fn now_of(s: &Session, source: Source) -> Timestamp {
    s.signals[&source]
}

/// A store and, beside it, the record the core's rules compute from the same changes at the
/// same times, with the events they produce.
struct Twin {
    store: RedisStore,
    id: String,
    model: Option<Session>,
    logged: Vec<EventKind>,
}

impl Twin {
    fn model(&self) -> Session {
        self.model.clone().expect("registered")
    }

    fn register(&mut self, reg: &Registration) {
        let stored = self.store.register(reg).unwrap();
        let (expected, events) = reg.apply(self.model.as_ref(), now_of(&stored, reg.source));
        assert_eq!(stored, expected, "register {reg:?}");
        self.logged.extend(events);
        self.model = Some(stored);
    }

    fn beat(&mut self, beat: &Beat) {
        let stored = self.store.heartbeat(&self.id, beat).unwrap();
        let mut expected = self.model();
        let Some(stored) = stored else {
            let now = expected.last_seen;
            assert!(
                beat.apply(&mut expected, now).is_none(),
                "the core takes {beat:?}"
            );
            return;
        };
        let events = beat
            .apply(&mut expected, now_of(&stored, beat.source))
            .expect("the core takes the beat too");
        assert_eq!(stored, expected, "beat {beat:?}");
        self.logged.extend(events);
        self.model = Some(stored);
    }

    fn end(&mut self, source: Source) {
        let stored = self.store.unregister(&self.id, source).unwrap().unwrap();
        let mut expected = self.model();
        let events = expected.end(
            source,
            stored.signals.get(&source).copied().unwrap_or_default(),
        );
        if events.is_empty() {
            expected = self.model();
        }
        assert_eq!(stored, expected, "end by {source:?}");
        self.logged.extend(events);
        self.model = Some(stored);
    }

    fn exit(&mut self, incarnation: u64, status: ExitStatus) {
        let source = Source::Watch;
        let recorded = self
            .store
            .record_exit(&self.id, incarnation, status, source)
            .unwrap();
        let stored = self.store.session(&self.id).unwrap().unwrap();
        let mut expected = self.model();
        let events = if expected.incarnation == incarnation {
            expected.exited(status, source, now_of(&stored, source))
        } else {
            Vec::new()
        };
        assert_eq!(recorded, !events.is_empty());
        if !recorded {
            expected = self.model();
        }
        assert_eq!(stored, expected, "exit {incarnation} {status:?}");
        self.logged.extend(events);
        self.model = Some(stored);
    }
}

/// Runs every kind of change through the store and through the core's rules side by side:
/// the stored record and the logged events must be exactly what the core computes.
#[test]
fn the_scripts_apply_the_core_rules_exactly() {
    let server = RedisServer::start();
    let id = "a b/ü{x}";
    let mut twin = Twin {
        store: open(&server, "default"),
        id: id.to_owned(),
        model: None,
        logged: Vec::new(),
    };
    let reg = registration(id);
    twin.register(&reg);
    twin.register(&Registration {
        task: "another".into(),
        cwd: None,
        log_path: Some("/tmp/log".into()),
        labels: BTreeMap::from([("k".into(), "v".into())]),
        policy: PolicyOverrides {
            ttl: Some(u64::MAX),
            ..PolicyOverrides::default()
        },
        source: Source::Cli,
        ..reg.clone()
    });

    let phase_at = twin.model().phase_at;
    let later = |ms: u64| phase_at.plus(Duration::from_millis(ms));
    let blocked = Phase::Blocked {
        on: "permission for Bash".into(),
    };
    let beats = [
        Beat::activity(Source::Hook, later(1)),
        Beat {
            phase: Some(Phase::Working),
            ..Beat::activity(Source::Cli, later(0))
        },
        Beat {
            phase: Some(Phase::InTool {
                tool: "Bash".into(),
                since: later(2),
            }),
            progress: Some(serde_json::json!({"big": u64::MAX, "empty": [], "o": {}, "x": 0.1})),
            log_mtime: Some(later(50)),
            ..Beat::activity(Source::Hook, later(2))
        },
        Beat {
            kind: BeatKind::Signal,
            phase: Some(blocked.clone()),
            ..Beat::activity(Source::Api, later(3))
        },
        Beat {
            phase: Some(Phase::Working),
            log_mtime: Some(later(10)),
            ..Beat::alive(Source::Watch, later(1))
        },
        Beat {
            phase: Some(blocked),
            ..Beat::activity(Source::Hook, later(4))
        },
        Beat {
            phase: Some(Phase::Ended),
            ..Beat::activity(Source::Hook, later(5))
        },
        Beat::activity(Source::Hook, later(6)),
    ];
    for beat in &beats {
        twin.beat(beat);
    }
    twin.register(&reg);
    twin.end(Source::Cli);
    twin.end(Source::Api);
    twin.register(&reg);
    let current = twin.model().incarnation;
    twin.exit(current + 1, ExitStatus::Gone);
    twin.exit(current, ExitStatus::Code(3));
    twin.exit(current, ExitStatus::Signal(9));
    twin.beat(&beats[0]);
    twin.register(&reg);
    assert_eq!(twin.model().incarnation, current + 1);

    let kinds: Vec<_> = twin
        .store
        .session_events(id, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, twin.logged);
    assert_eq!(kinds.iter().filter(|k| k.name() == "registered").count(), 4);
}

#[test]
fn flushed_functions_are_loaded_again() {
    let server = RedisServer::start();
    let store = open(&server, "default");
    store.register(&registration("s1")).unwrap();
    let mut raw = server.raw();
    let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut raw).unwrap();
    let beat = Beat::activity(Source::Hook, store.now().unwrap());
    let s = store.heartbeat("s1", &beat).unwrap().expect("alive");
    assert_eq!(s.beats, 1);
    store.register(&registration("s2")).unwrap();
    let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut raw).unwrap();
    let beats: Vec<u64> = store
        .renewals(&[("s1", &beat), ("s2", &beat), ("s1", &beat)])
        .into_iter()
        .map(|r| r.unwrap().expect("alive").beats)
        .collect();
    assert_eq!(
        beats,
        [2, 1, 3],
        "a batch that found no functions ran each call once"
    );
    let s = store.session("s1").unwrap().unwrap();
    let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut raw).unwrap();
    assert!(store.evict("s1", s.revision, "test").unwrap());
}

/// Builds of coord whose functions differ (here, by the host gap in their constants) share a
/// server: each loads its own library beside the other's and calls its own.
#[test]
fn stores_built_with_other_functions_keep_their_own_on_one_server() {
    let server = RedisServer::start();
    let store = open(&server, "default");
    let other = RedisStore::open(
        &server.url(),
        &Config {
            host_gap: Duration::from_secs(3),
            ..Config::new("default")
        },
    )
    .unwrap();
    store.register(&registration("s1")).unwrap();
    let beat = Beat::activity(Source::Hook, other.now().unwrap());
    assert_eq!(other.renew("s1", &beat).unwrap().unwrap().beats, 1);
    assert_eq!(store.renew("s1", &beat).unwrap().unwrap().beats, 2);
    let libraries: Vec<redis::Value> = redis::cmd("FUNCTION")
        .arg("LIST")
        .query(&mut server.raw())
        .unwrap();
    assert_eq!(libraries.len(), 2, "one library each: {libraries:?}");
}

/// The event stream keeps about `event_keep` events: trimmed on every append by whole nodes of
/// the stream (100 entries each), never below the number kept.
#[test]
fn the_event_stream_keeps_about_as_many_events_as_configured() {
    let server = RedisServer::start();
    let store = RedisStore::open(
        &server.url(),
        &Config {
            event_keep: 10,
            ..Config::new("default")
        },
    )
    .unwrap();
    for i in 0..300 {
        store.register(&registration(&format!("s{i}"))).unwrap();
    }
    let kept: usize = redis::cmd("XLEN")
        .arg("coord:{default}:events")
        .query(&mut server.raw())
        .unwrap();
    assert!((10..=110).contains(&kept), "{kept} of 300 kept");
    let last = store.events(0, 1000).unwrap();
    assert_eq!(last.last().map(|e| e.seq), Some(300), "the newest are kept");
}

#[test]
fn every_key_is_under_its_namespace_hash_tag_and_never_expires() {
    let server = RedisServer::start();
    for (namespace, tag) in [("team-a", "{team-a}"), ("we{i}rd%", "{we%7Bi%7Drd%25}")] {
        let store = open(&server, namespace);
        store.register(&registration("s1")).unwrap();
        store.register(&registration("s2")).unwrap();
        store
            .heartbeat("s1", &Beat::activity(Source::Hook, store.now().unwrap()))
            .unwrap();
        let prefix = format!("coord:{tag}:");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!(
                "coord:{}*",
                tag.replace('{', "\\{").replace('}', "\\}")
            ))
            .query(&mut server.raw())
            .unwrap();
        assert_eq!(keys.len(), 7, "{keys:?}");
        assert!(keys.iter().all(|k| k.starts_with(&prefix)), "{keys:?}");
    }
    let mut raw = server.raw();
    let mut all = Vec::new();
    let mut cursor = 0;
    loop {
        let (next, keys): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).query(&mut raw).unwrap();
        all.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(all.len(), 14, "{all:?}");
    for key in &all {
        assert!(key.starts_with("coord:{"), "{key}");
        let ttl: i64 = redis::cmd("TTL").arg(key).query(&mut raw).unwrap();
        assert_eq!(ttl, -1, "{key} expires");
    }
}

#[test]
fn now_is_the_server_clock() {
    let server = RedisServer::start();
    let store = open(&server, "default");
    let mut raw = server.raw();
    let mut server_now = || {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut raw).unwrap();
        secs * 1_000 + micros / 1_000
    };
    let before = server_now();
    let now = store.now().unwrap().as_millis();
    let after = server_now();
    assert!(
        before <= now && now <= after,
        "{before} <= {now} <= {after}"
    );
    let s = store.register(&registration("s1")).unwrap();
    assert!(s.registered_at.as_millis() >= now && s.registered_at.as_millis() <= server_now());
}

#[test]
fn a_broken_connection_is_made_again() {
    let server = RedisServer::start();
    let store = open(&server, "default");
    store.register(&registration("s1")).unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut server.raw())
        .unwrap();
    let _ = store.session("s1");
    assert!(store.session("s1").unwrap().is_some());
}

/// The URL of a local TCP address, with a password that must never show.
fn url_with_password(addr: SocketAddr) -> (coord_store::url::RedisUrl, String) {
    let text = format!("redis://coord:s3cret@{addr}/0");
    let Ok(StoreUrl::Redis(url)) = StoreUrl::parse(Some(&text), |_| None) else {
        panic!("{text} does not parse");
    };
    (url, format!("redis://coord:***@{addr}/0"))
}

/// How much longer than its timeout a failed call may take: thread wake-ups on a loaded machine.
const MARGIN: Duration = Duration::from_millis(100);

fn config(timeout: Duration) -> Config {
    Config {
        connect_timeout: timeout,
        ..Config::new("default")
    }
}

#[test]
fn an_unreachable_server_fails_within_the_timeout_naming_the_masked_url() {
    let (_listener, _filler, addr) = support::black_hole();
    let (url, shown) = url_with_password(addr);
    let timeout = Duration::from_millis(250);
    let started = Instant::now();
    let err = RedisStore::open(&url, &config(timeout))
        .err()
        .expect("no server there");
    let elapsed = started.elapsed();
    assert!(elapsed < timeout + MARGIN, "took {elapsed:?}");
    assert!(matches!(err, StoreError::Timeout { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&shown), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert!(!format!("{err:?} {url:?}").contains("s3cret"));
}

#[test]
fn a_server_that_never_answers_fails_within_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let text = format!("redis://{addr}/0");
    let Ok(StoreUrl::Redis(url)) = StoreUrl::parse(Some(&text), |_| None) else {
        panic!("{text} does not parse");
    };
    let timeout = Duration::from_millis(200);
    let store = RedisStore::open(&url, &config(timeout)).unwrap();
    let started = Instant::now();
    let err = store
        .heartbeat("s1", &Beat::activity(Source::Hook, Timestamp::default()))
        .unwrap_err();
    assert!(
        started.elapsed() < timeout + MARGIN,
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, StoreError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains(&text), "{err}");

    let (url, shown) = url_with_password(addr);
    let started = Instant::now();
    let err = RedisStore::open(&url, &config(timeout))
        .err()
        .expect("no answer to AUTH");
    assert!(started.elapsed() < timeout + MARGIN);
    assert!(err.to_string().contains(&shown), "{err}");
}

#[test]
fn a_wrong_password_names_the_masked_url() {
    let server = RedisServer::start_with(&["--requirepass", "right"]);
    let text = format!("redis+unix://{}?pass=wrong", server.socket().display());
    let Ok(StoreUrl::Redis(url)) = StoreUrl::parse(Some(&text), |_| None) else {
        panic!("{text} does not parse");
    };
    let err = RedisStore::open(&url, &Config::new("default"))
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("pass=***") && !message.contains("wrong"),
        "{message}"
    );
}

/// `rediss://`: a TLS server whose certificate a test authority signed. The authority is given
/// to the store through `SSL_CERT_FILE`, which only a new process can set (the environment is
/// read when connecting): the test runs [`tls_client`] in a child of this test binary.
#[test]
fn rediss_urls_connect_over_tls() {
    let certs = TlsCerts::make();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args = vec![
        "--bind".to_owned(),
        "127.0.0.1".to_owned(),
        "--tls-port".to_owned(),
        port.to_string(),
    ];
    for (name, value) in certs.settings() {
        args.extend([format!("--{name}"), value]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _server = RedisServer::start_with(&args);
    let url = format!("rediss://localhost:{port}/0");
    run_in_child(
        "tls_client",
        &[
            ("SSL_CERT_FILE", certs.ca().as_os_str()),
            ("COORD_TEST_TLS_URL", std::ffi::OsStr::new(&url)),
        ],
    );
}

/// The client half of [`rediss_urls_connect_over_tls`], run only by it.
#[test]
#[ignore = "run by rediss_urls_connect_over_tls, with the test authority in SSL_CERT_FILE"]
fn tls_client() {
    let text = std::env::var("COORD_TEST_TLS_URL").unwrap();
    let url = StoreUrl::parse(Some(&text), |_| None).unwrap();
    assert_eq!(url.to_string(), text);
    let store = coord_store::open(&url, &Config::new("default")).unwrap();
    let s = store.register(&registration("s1")).unwrap();
    assert_eq!(store.session("s1").unwrap(), Some(s));
}

#[test]
fn a_namespace_written_before_the_task_indexes_is_claimed_listed_and_retired_from_all_its_tasks() {
    use coord_core::{NewTask, Task};
    use coord_store::{ClaimOutcome, ClaimRequest};
    let server = RedisServer::start();
    let store = open(&server, "old");
    let now = store.now().unwrap();
    let mut con = server.raw();
    // Two pending tasks and a finished one as an earlier coord stored them: a record and a
    // place by age, no index.
    for (i, id) in ["first", "second", "finished"].into_iter().enumerate() {
        let spec = NewTask {
            id: id.to_owned(),
            title: "work".to_owned(),
            ..NewTask::default()
        };
        let mut t = Task::new(&spec, now);
        if id == "finished" {
            t.claim("s0", 1, Duration::from_secs(60), now).unwrap();
            t.complete(1, now).unwrap();
        }
        redis::cmd("HSET")
            .arg(format!("coord:{{old}}:task:{id}"))
            .arg("revision")
            .arg(1)
            .arg("record")
            .arg(serde_json::to_string(&t).unwrap())
            .query::<()>(&mut con)
            .unwrap();
        redis::cmd("ZADD")
            .arg("coord:{old}:tasks")
            .arg(now.as_millis() + i as i64)
            .arg(id)
            .query::<()>(&mut con)
            .unwrap();
    }
    let labels = BTreeMap::new();
    let claim = ClaimRequest {
        session: "s1",
        incarnation: 1,
        labels: &labels,
        task: None,
        lease: Duration::from_secs(60),
    };
    for expected in ["first", "second"] {
        match store.claim_task(&claim).unwrap() {
            ClaimOutcome::Claimed(t) => assert_eq!(t.id, expected),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        store.claim_task(&claim).unwrap(),
        ClaimOutcome::NothingWaits
    );
    // Its open and finished tasks are indexed once, at the first read.
    let open: Vec<String> = store
        .open_tasks()
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(open, ["first", "second"]);
    let finished = store.finished_tasks(10).unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].id, "finished");
    let far = now.plus(Duration::from_secs(3600));
    assert_eq!(store.retire_tasks(far, 10).unwrap(), 1);
    assert_eq!(store.tasks().unwrap().len(), 2);
}
