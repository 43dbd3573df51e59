//! The conformance suite through Redis Sentinel (a master, its replica and a sentinel of this
//! test alone), plus what a failover must keep: the store follows the master the sentinels
//! name, and a token the old master handed out is never handed out again; over TLS too.

mod conformance;
mod support;

use std::time::{Duration, Instant};

use conformance::registration;
use coord_core::{Beat, Source};
use coord_store::redis::RedisStore;
use coord_store::url::RedisUrl;
use coord_store::{Config, Store, StoreError};
use support::{SentinelSet, TlsCerts, run_in_child};

struct Sentinel {
    set: SentinelSet,
}

impl conformance::Backend for Sentinel {
    fn open_with(&self, config: Config) -> Box<dyn Store> {
        Box::new(RedisStore::open(&self.set.url(), &config).unwrap())
    }
}

conformance_suite!(Sentinel {
    set: SentinelSet::start("coord-suite")
});

/// Through its sentinels, a store finds the master, and after a failover the one promoted:
/// what it wrote before (and the replica received) is there, and it goes on writing.
#[test]
fn through_sentinel_the_store_follows_a_failover() {
    follows_a_failover(&SentinelSet::start("coord-main"));
}

/// What [`through_sentinel_the_store_follows_a_failover`] checks, on any set with one replica.
fn follows_a_failover(set: &SentinelSet) {
    let store = RedisStore::open(&set.url(), &Config::new("default")).unwrap();
    store.register(&registration("s1")).unwrap();
    let beat = Beat::activity(Source::Hook, store.now().unwrap());
    assert_eq!(store.renew("s1", &beat).unwrap().expect("alive").beats, 1);
    set.replicated();

    let before = set.master_port();
    set.failover();
    assert_ne!(set.master_port(), before);
    // The demotion closed the handle's connection: its next call fails (it cannot know
    // whether a change it sent then landed), and the one after finds the new master.
    let now = store.now().or_else(|_| store.now()).unwrap();
    let beat = Beat::activity(Source::Hook, now);
    let renewed = store.renew("s1", &beat).unwrap();
    assert_eq!(
        renewed.expect("the promoted replica has the session").beats,
        2
    );
    let batch: Vec<u64> = store
        .renewals(&[("s1", &beat), ("s1", &beat)])
        .into_iter()
        .map(|r| r.unwrap().unwrap().beats)
        .collect();
    assert_eq!(batch, [3, 4]);
    let fresh = RedisStore::open(&set.url(), &Config::new("default")).unwrap();
    assert_eq!(fresh.session("s1").unwrap().unwrap().beats, 4);
    let on_new_master: String = redis::cmd("HGET")
        .arg("coord:{default}:session:s1")
        .arg("beats")
        .query(&mut set.replica.raw())
        .unwrap();
    assert_eq!(on_new_master, "4", "written to the promoted replica");
}

/// A master that a failover demoted resyncs from the new one with its data flushed or old:
/// there a renewal would answer "not registered" of a session the new master holds, and an
/// eviction "changed since". A replica refuses every call of coord's functions, even one that
/// would find nothing to change, as it refuses writes (READONLY), which sends a handle through
/// sentinels back to the master; and the renewal through the sentinels lands on the master.
#[test]
fn a_replica_refuses_the_changes_it_finds_nothing_for() {
    let set = SentinelSet::start("coord-replica");
    let store = RedisStore::open(&set.url(), &Config::new("default")).unwrap();
    store.register(&registration("s1")).unwrap();
    set.replicated();

    let on_replica = RedisStore::open(&set.replica.url(), &Config::new("default")).unwrap();
    let beat = Beat::activity(Source::Hook, store.now().unwrap());
    let refusals = [
        on_replica.now().map(|_| ()),
        on_replica.renew("s2", &beat).map(|_| ()),
        on_replica.unregister("s2", Source::Hook).map(|_| ()),
        on_replica.evict("s2", 1, "gone").map(|_| ()),
    ];
    for refused in refusals {
        let e = refused.expect_err("a replica changes nothing and says so");
        assert!(e.to_string().contains("read only replica"), "{e}");
    }
    assert!(
        on_replica.session("s1").unwrap().is_some(),
        "reads go on: the replica has what it was sent"
    );
    assert_eq!(
        store
            .renew("s1", &beat)
            .unwrap()
            .expect("on the master")
            .beats,
        1
    );
}

/// `rediss+sentinel://`: sentinels asked over plain TCP name a master and a replica that speak
/// TLS only, with a certificate a test authority signed. Unless it trusts that authority, the
/// store cannot connect, nor can it without TLS (`redis+sentinel://`); once it does, it reaches
/// the master over TLS and follows a failover as
/// [`through_sentinel_the_store_follows_a_failover`] does. The authority is given to the store
/// through `SSL_CERT_FILE`, which only a new process can set (the environment is read when
/// connecting): that half is [`tls_sentinel_client`], run in a child of this test binary.
#[test]
fn through_sentinels_over_tls_the_store_reaches_the_master_and_follows_a_failover() {
    let certs = TlsCerts::make();
    {
        let set = SentinelSet::start_tls("coord-untrusted", &certs);
        let refused = |url: &RedisUrl| match RedisStore::open(url, &Config::new("default")) {
            Err(StoreError::Connect { source, .. }) => source,
            Err(other) => panic!("{url}: {other:?}"),
            Ok(_) => panic!("{url} connected"),
        };
        let untrusted = refused(&set.url());
        assert!(untrusted.to_string().contains("certificate"), "{untrusted}");
        // A master that speaks TLS hangs up on a request in plain text.
        let plain = refused(&set.plain_url());
        assert!(plain.is_io_error(), "{plain:?}");
    }
    run_in_child(
        "tls_sentinel_client",
        &[
            ("SSL_CERT_FILE", certs.ca().as_os_str()),
            ("COORD_TEST_CERTS", certs.dir().as_os_str()),
        ],
    );
}

/// The half of [`through_sentinels_over_tls_the_store_reaches_the_master_and_follows_a_failover`]
/// that trusts the test authority, run only by it.
#[test]
#[ignore = "run by through_sentinels_over_tls_…, with the test authority in SSL_CERT_FILE"]
fn tls_sentinel_client() {
    let dir = std::env::var_os("COORD_TEST_CERTS").expect("COORD_TEST_CERTS: run by the TLS test");
    let set = SentinelSet::start_tls("coord-tls", &TlsCerts::at(dir.into()));
    assert!(set.url().to_string().starts_with("rediss+sentinel://"));
    follows_a_failover(&set);
}

/// A failover to a replica that never received the last tokens the old master handed out
/// hands none of them out again: on a master not seen before, the counter jumps first.
#[test]
fn a_failover_that_lost_the_last_tokens_never_hands_one_out_twice() {
    let mut set = SentinelSet::start("coord-tokens");
    let store = RedisStore::open(&set.url(), &Config::new("default")).unwrap();
    let replicated = store.next_token().unwrap();
    set.replicated();

    // Cut the replica off (frozen, its link dropped), take a token only the master sees, and
    // lose the master.
    set.replica.freeze();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut set.master.raw())
        .unwrap();
    let lost = store.next_token().unwrap();
    assert_eq!(lost, replicated + 1);
    set.master.stop();
    set.replica.thaw();
    set.wait_for_master(set.replica_port());

    let deadline = Instant::now() + Duration::from_secs(30);
    let next = loop {
        match store.next_token() {
            Ok(token) => break token,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the new master: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("no token from the new master: {e}"),
        }
    };
    assert!(next > lost, "token {next} after {lost}: handed out twice");
    let counter: u64 = redis::cmd("GET")
        .arg("coord:{default}:tokens")
        .query(&mut set.replica.raw())
        .unwrap();
    assert_eq!(
        counter, next,
        "the promoted replica keeps counting from there"
    );
}
