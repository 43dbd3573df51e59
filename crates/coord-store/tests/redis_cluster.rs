//! The conformance suite on a Redis Cluster of this test alone (three masters, one replica
//! each), plus what a cluster adds: a namespace on one slot, a store that follows its slot
//! when it moves (`MOVED`, and `ASK` while it moves), and a failover of the slot's master
//! that never hands a token out twice.

mod conformance;
mod support;

use std::time::{Duration, Instant};

use conformance::{new_task, registration};
use coord_core::{Beat, Source};
use coord_store::redis::RedisStore;
use coord_store::{Config, Store, StoreError};
use support::ClusterSet;

struct Cluster {
    set: ClusterSet,
}

impl conformance::Backend for Cluster {
    fn open_with(&self, config: Config) -> Box<dyn Store> {
        Box::new(RedisStore::open(&self.set.url(), &config).unwrap())
    }
}

conformance_suite!(Cluster {
    set: ClusterSet::start()
});

/// Retries `f` until it succeeds, for at most `within`: a cluster between a master's death and
/// its replica's promotion answers nothing for the slot.
fn eventually<T>(within: Duration, mut f: impl FnMut() -> Result<T, StoreError>) -> T {
    let deadline = Instant::now() + within;
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("gave up after {within:?}: {e}"),
        }
    }
}

/// Every key of a namespace is on one slot, served by one master: a namespace on another
/// slot may be on another master, and each sees only its own sessions.
#[test]
fn a_namespace_lives_on_one_slot() {
    let set = ClusterSet::start();
    let names = ["default", "team-a", "team-b", "team-c", "team-d", "team-e"];
    for name in names {
        let store = RedisStore::open(&set.url(), &Config::new(name)).unwrap();
        store.register(&registration(name)).unwrap();
        store.put_task(&new_task(&store, "t1"), None, &[]).unwrap();
        store.next_token().unwrap();
    }
    let mut masters = std::collections::BTreeSet::new();
    for name in names {
        let slot = set.slot_of(&format!("coord:{{{name}}}:ids"));
        let master = set.master_of(slot);
        masters.insert(master);
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(1000)
            .query(&mut set.raw(master))
            .unwrap();
        assert!(
            keys.iter()
                .all(|k| k.starts_with(&format!("coord:{{{name}}}:"))),
            "{name}: {keys:?}"
        );
        assert!(
            keys.len() >= 5,
            "{name}: the session, indexes, task and tokens: {keys:?}"
        );
        let store = RedisStore::open(&set.url(), &Config::new(name)).unwrap();
        let ids: Vec<String> = store
            .sessions()
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, [name]);
    }
    assert!(masters.len() > 1, "six namespaces on one master of three");
}

/// A slot moved to another master while a handle is open: its calls, alone or in batches,
/// follow the slot (`MOVED`), and reads of keys already moved while the slot is half moved
/// follow it too (`ASK`).
#[test]
fn the_store_follows_its_slot_when_it_moves() {
    let set = ClusterSet::start();
    let store = RedisStore::open(&set.url(), &Config::new("default")).unwrap();
    store.register(&registration("s1")).unwrap();
    store.register(&registration("s2")).unwrap();
    let slot = set.slot_of("coord:{default}:ids");
    let from = set.master_of(slot);
    let to = *set.masters().iter().find(|&&p| p != from).unwrap();

    let mut moving = set.begin_move(slot, to);
    while moving.migrate_some(1) > 0 {
        // Whatever has moved, the session reads through ASK or on the old master.
        assert_eq!(store.session("s1").unwrap().unwrap().id, "s1");
    }
    moving.finish();
    assert_eq!(set.master_of(slot), to);

    let beat = Beat::activity(Source::Hook, store.now().unwrap());
    assert_eq!(store.renew("s1", &beat).unwrap().unwrap().beats, 1);
    let batch: Vec<u64> = store
        .renewals(&[("s1", &beat), ("s2", &beat), ("s1", &beat)])
        .into_iter()
        .map(|r| r.unwrap().unwrap().beats)
        .collect();
    assert_eq!(batch, [2, 1, 3]);
    let beats: String = redis::cmd("HGET")
        .arg("coord:{default}:session:s1")
        .arg("beats")
        .query(&mut set.raw(to))
        .unwrap();
    assert_eq!(beats, "3", "written on the slot's new master");

    // And back, all at once, under a handle that has not heard of either move.
    set.move_slot(slot, from);
    assert_eq!(store.renew("s2", &beat).unwrap().unwrap().beats, 2);
}

/// The slot's master dies right after a claim its replica never received: once the replica
/// is promoted, the namespace's next token is still past every one handed out.
#[test]
fn a_failover_that_lost_the_last_tokens_never_hands_one_out_twice() {
    let mut set = ClusterSet::start();
    let store = RedisStore::open(&set.url(), &Config::new("default")).unwrap();
    let replicated = store.next_token().unwrap();
    let slot = set.slot_of("coord:{default}:tokens");
    let master = set.master_of(slot);
    let replica = set.replica_of(master);
    // WAIT waits for the writes of its own connection: one of the slot's, then the wait.
    let mut raw = set.raw(master);
    let _: i64 = redis::cmd("INCR")
        .arg("test:{default}:replicated")
        .query(&mut raw)
        .unwrap();
    let synced: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut raw).unwrap();
    assert_eq!(synced, 1, "the replica has the first token");

    // Cut the replica off (frozen, its link dropped), take a token only the master sees, and
    // lose the master.
    set.node(replica).freeze();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut set.raw(master))
        .unwrap();
    let lost = store.next_token().unwrap();
    assert_eq!(lost, replicated + 1);
    set.node(replica).thaw();
    let promoted = set.fail_master_of(slot);
    assert_eq!(promoted, replica);

    let next = eventually(Duration::from_secs(30), || store.next_token());
    assert!(next > lost, "token {next} after {lost}: handed out twice");
    let counter: u64 = redis::cmd("GET")
        .arg("coord:{default}:tokens")
        .query(&mut set.raw(replica))
        .unwrap();
    assert_eq!(counter, next, "the promoted replica counts from there");
}
