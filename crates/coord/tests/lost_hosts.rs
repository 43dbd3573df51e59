//! Lost hosts through the real binary: two hosts on one store (`COORD_HOST`), short limits
//! (`COORD_HOST_LOST_AFTER`), one falls silent and its work moves to the other; a host that
//! says it shuts down hands its work on at once; `coord hosts` shows each host's state.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::thread;
use std::time::Duration;

use common::{Sleeper, World, succeed};
use serde_json::Value;

/// A coord command on host `host`, with a 2 s limit for a host to be lost.
fn on(w: &World, host: &str) -> Command {
    let mut c = w.cmd();
    c.env("COORD_HOST", host).env("COORD_HOST_LOST_AFTER", "2s");
    c
}

fn run(w: &World, host: &str, args: &[&str]) -> String {
    succeed(on(w, host).args(args))
}

fn hosts(w: &World, from: &str) -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&run(w, from, &["hosts", "--json"])).unwrap();
    doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn holder(w: &World, task: &str) -> String {
    let doc: Value = serde_json::from_str(&run(w, "a", &["task", "show", task, "--json"])).unwrap();
    doc["session"].as_str().unwrap_or("").to_owned()
}

/// Sessions a1 on host a and b1 on host b (a 1 s ttl), b1 holding task t1.
fn two_hosts(w: &World) -> (Sleeper, Sleeper) {
    let (a, b) = (Sleeper::start(), Sleeper::start());
    run(
        w,
        "a",
        &["register", "--id", "a1", "--ttl", "1s", "--pid", &a.pid()],
    );
    run(
        w,
        "b",
        &["register", "--id", "b1", "--ttl", "1s", "--pid", &b.pid()],
    );
    run(w, "a", &["task", "add", "--id", "t1", "build the release"]);
    run(
        w,
        "b",
        &["task", "claim", "--session", "b1", "--task", "t1"],
    );
    assert_eq!(holder(w, "t1"), "b1");
    (a, b)
}

fn a_silent_host_is_lost_while_another_is_heard_and_its_work_moves(w: &World) {
    let _agents = two_hosts(w);
    // Host b falls silent; host a is heard every 300 ms.
    for _ in 0..9 {
        run(w, "a", &["heartbeat", "--id", "a1"]);
        thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        hosts(w, "a"),
        [("a".into(), "heard".into()), ("b".into(), "lost".into())]
    );
    let explained = run(w, "a", &["explain", "b1"]);
    assert!(
        explained.starts_with("b1 is dead: host b lost: silent"),
        "{explained}"
    );
    assert!(
        explained.contains("heard without a gap all the while: a"),
        "{explained}"
    );
    let swept = run(
        w,
        "a",
        &["sweep", "--assign", "--grace", "0s", "--lock-delay", "0s"],
    );
    assert!(swept.contains("host      b: lost"), "{swept}");
    assert!(swept.contains("evicted   b1: dead: host b lost"), "{swept}");
    assert_eq!(holder(w, "t1"), "a1");
    let events = run(w, "a", &["events"]);
    assert!(events.contains("host lost: silent"), "{events}");
}

fn nothing_is_lost_while_no_host_is_heard(w: &World) {
    let _agents = two_hosts(w);
    // Both hosts silent (the store down, the fleet asleep): a sweep from a third machine that
    // is no host of the fleet finds nothing to hand on.
    thread::sleep(Duration::from_secs(3));
    let swept = run(w, "ops", &["sweep", "--assign", "--grace", "0s"]);
    assert!(swept.starts_with("nothing to do"), "{swept}");
    assert_eq!(
        hosts(w, "ops"),
        [("a".into(), "silent".into()), ("b".into(), "silent".into())]
    );
    assert_eq!(holder(w, "t1"), "b1");
}

fn a_host_that_shuts_down_hands_its_work_on_at_once(w: &World) {
    let _agents = two_hosts(w);
    let said = run(w, "b", &["host", "shutdown"]);
    assert_eq!(said, "b down: 1 session ended, 1 task back in the queue\n");
    // Within the lock-delay (5 s) a sweep hands it to the live session on host a.
    let start = std::time::Instant::now();
    while holder(w, "t1") != "a1" {
        assert!(start.elapsed() < Duration::from_secs(10), "t1 never moved");
        run(w, "a", &["heartbeat", "--id", "a1"]);
        run(w, "a", &["sweep", "--assign"]);
        thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        hosts(w, "a"),
        [("a".into(), "heard".into()), ("b".into(), "down".into())]
    );
    // Its last hooks within 30 s of the word leave it down; back up (the watcher's unit says
    // so as it starts), it is judged as any host again.
    run(w, "b", &["host", "wake"]);
    let agent = Sleeper::start();
    run(w, "b", &["register", "--id", "b2", "--pid", &agent.pid()]);
    assert_eq!(hosts(w, "a")[1], ("b".into(), "heard".into()));
}

fn a_host_that_said_it_sleeps_is_asleep_not_lost(w: &World) {
    let _agents = two_hosts(w);
    run(w, "b", &["host", "sleep"]);
    for _ in 0..9 {
        run(w, "a", &["heartbeat", "--id", "a1"]);
        thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(hosts(w, "a")[1], ("b".into(), "asleep".into()));
    let shown = run(w, "a", &["ps", "--json"]);
    assert!(shown.contains("host asleep for"), "{shown}");
    run(w, "a", &["sweep", "--assign", "--grace", "0s"]);
    assert_eq!(holder(w, "t1"), "b1");
}

/// Each check on the embedded store and on a private Redis.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[test] fn $name() { super::$name(&super::World::new()); })*
        }
        mod redis {
            $(#[test] fn $name() {
                let server = super::support::RedisServer::start();
                super::$name(&super::World::on(server.url().to_string()));
            })*
        }
    };
}

on_both_stores!(
    a_silent_host_is_lost_while_another_is_heard_and_its_work_moves,
    nothing_is_lost_while_no_host_is_heard,
    a_host_that_shuts_down_hands_its_work_on_at_once,
    a_host_that_said_it_sleeps_is_asleep_not_lost,
);
