//! One fleet across machines: every command pointed at a private `redis-server`.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::serve::Served;
use common::{Sleeper, World, hammer, succeed};
use serde_json::Value;
use support::{ClusterSet, RedisServer, SentinelSet};

/// A coord command on "host" `host`, against the server.
fn on(w: &World, server: &RedisServer, host: &str) -> Command {
    let mut c = w.cmd();
    c.env("COORD_URL", server.url().to_string())
        .env("COORD_HOST", host);
    c
}

fn ps(w: &World, server: &RedisServer, host: &str) -> Vec<(String, String)> {
    let out = succeed(on(w, server, host).args(["ps", "--all", "--json"]));
    let doc: Value = serde_json::from_str(&out).unwrap();
    doc["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn two_hosts_see_one_fleet_with_the_same_states() {
    let w = World::new();
    let server = RedisServer::start();
    let mut a = Sleeper::start();
    let b = Sleeper::start();
    for (host, agent) in [("host-a", &a), ("host-b", &b)] {
        succeed(on(&w, &server, host).args([
            "register",
            "--id",
            &format!("agent-on-{host}"),
            "--pid",
            &agent.pid(),
        ]));
    }
    let from_a = ps(&w, &server, "host-a");
    assert_eq!(from_a, ps(&w, &server, "host-b"));
    assert_eq!(
        from_a,
        [
            ("agent-on-host-a".to_owned(), "active".to_owned()),
            ("agent-on-host-b".to_owned(), "active".to_owned())
        ]
    );
    // host-a's agent dies; host-a finds it gone (only host-a can look at its processes), and
    // host-b sees the same.
    a.kill();
    assert_eq!(ps(&w, &server, "host-a")[0].1, "dead");
    assert_eq!(ps(&w, &server, "host-b"), ps(&w, &server, "host-a"));
}

#[test]
fn two_hundred_processes_heartbeating_through_redis_lose_nothing() {
    const PROCESSES: usize = 200;
    const BEATS: usize = 5;
    let w = World::new();
    let server = RedisServer::start();
    let agent = Sleeper::start();
    let out = on(&w, &server, "h")
        .args(["register", "--id", "shared", "--pid", &agent.pid()])
        .output()
        .unwrap();
    assert!(out.status.success());
    hammer(&server.url().to_string(), PROCESSES, BEATS, |_| {
        "shared".to_owned()
    });
    let out = on(&w, &server, "h")
        .args(["show", "shared", "--json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["session"]["beats"], PROCESSES * BEATS);
}

#[test]
fn a_store_that_is_down_or_black_holed_costs_the_hook_under_300_ms_and_nothing_else() {
    let w = World::new();
    let (_listener, _filler, addr) = support::black_hole();
    let down = format!("redis+unix://{}/gone.sock", w.dir.path().display());
    let black_holed = format!("redis://:s3cret@{addr}/0");
    for url in [&down, &black_holed] {
        let start = Instant::now();
        let mut hook = w
            .cmd()
            .env("COORD_URL", url)
            .args(["hook", "PostToolUse"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(
            &mut hook.stdin.take().unwrap(),
            br#"{"session_id":"s","hook_event_name":"PostToolUse"}"#,
        )
        .unwrap();
        let out = hook.wait_with_output().unwrap();
        let took = start.elapsed();
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
        assert!(
            took < Duration::from_millis(300),
            "{url}: the hook took {took:?}"
        );
    }
    let out = w
        .cmd()
        .env("COORD_URL", &black_holed)
        .args(["ps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&addr.to_string()) && !err.contains("s3cret"),
        "{err}"
    );
}

/// A fleet whose Redis is watched by Sentinel: the commands and the hooks find the master
/// through the sentinels, before and after a failover, and the fleet is whole after it.
#[test]
fn commands_and_hooks_reach_the_fleet_through_its_sentinels_across_a_failover() {
    let set = SentinelSet::start("fleet-main");
    let w = World::on(set.url().to_string());
    let _agent = w.registered("agent-1", &[]);
    let hook = |session: &str| {
        let event = format!(r#"{{"session_id":"{session}","hook_event_name":"PostToolUse"}}"#);
        let start = Instant::now();
        let out = w.hook_on("host-a", "PostToolUse", event.as_bytes());
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
        start.elapsed()
    };
    hook("claude-1");
    assert_eq!(w.state("claude-1"), "active");
    set.replicated();

    set.failover();
    let took = hook("claude-1");
    assert!(took < Duration::from_millis(300), "a hook took {took:?}");
    hook("claude-2");
    let beats = |id: &str| w.session(id).unwrap()["beats"].as_u64().unwrap();
    assert_eq!(
        beats("claude-1"),
        2,
        "the beat before the failover and the one after"
    );
    assert_eq!(beats("claude-2"), 1);
    assert_eq!(w.state("agent-1"), "active");
    let on_new_master: u64 = redis::cmd("ZCARD")
        .arg("coord:{default}:ids")
        .query(&mut set.replica.raw())
        .unwrap();
    assert_eq!(on_new_master, 3, "written to the promoted replica");
}

/// A fleet on a Redis Cluster: the commands, the hooks, the task queue and `coord serve`
/// reach it through its nodes, and follow the fleet's slot when it moves to another master.
#[test]
fn commands_hooks_tasks_and_the_server_reach_a_fleet_on_a_cluster_across_a_move() {
    let set = ClusterSet::start();
    let w = World::on(set.url().to_string());
    let _agent = w.registered("agent-1", &[]);
    let hook = |session: &str| {
        let event = format!(r#"{{"session_id":"{session}","hook_event_name":"PostToolUse"}}"#);
        let out = w.hook_on("host-a", "PostToolUse", event.as_bytes());
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    };
    let claim = || {
        let out = w.ok(&["task", "claim", "--session", "agent-1"]);
        let mut words = out.split_whitespace();
        let task = words.next().unwrap().to_owned();
        (task, words.next().unwrap().parse::<u64>().unwrap())
    };
    hook("claude-1");
    assert_eq!(w.state("claude-1"), "active");
    w.ok(&["task", "add", "--id", "t1", "first"]);
    w.ok(&["task", "add", "--id", "t2", "second"]);
    let (first, token) = claim();
    assert_eq!(first, "t1");

    let slot = set.slot_of("coord:{default}:ids");
    let from = set.master_of(slot);
    let to = *set.masters().iter().find(|&&p| p != from).unwrap();
    set.move_slot(slot, to);

    hook("claude-1");
    let beats = |id: &str| w.session(id).unwrap()["beats"].as_u64().unwrap();
    assert_eq!(
        beats("claude-1"),
        2,
        "the beat before the move and the one after"
    );
    let (second, next) = claim();
    assert_eq!(second, "t2");
    // On a master not seen before the counter moves ahead first: tokens only grow.
    assert!(next > token, "token {next} after {token}");
    let ids: u64 = redis::cmd("ZCARD")
        .arg("coord:{default}:ids")
        .query(&mut set.raw(to))
        .unwrap();
    assert_eq!(ids, 2, "the fleet is on the slot's new master");

    let served = Served::start(World::on(set.url().to_string()), &[]);
    let client = World::on(served.url());
    client.ok(&["heartbeat", "--id", "agent-1"]);
    assert_eq!(w.session("agent-1").unwrap()["beats"].as_u64(), Some(1));
    assert_eq!(client.state("claude-1"), "active");

    // A watcher holds a process's session through the cluster and records its end.
    let mut held = Sleeper::start();
    let mut watch = w
        .cmd()
        .args([
            "watch",
            "--pid",
            &held.pid(),
            "--id",
            "held",
            "--interval",
            "100ms",
        ])
        .spawn()
        .unwrap();
    let seen = || {
        w.session("held")
            .and_then(|s| s["signals"]["watch"]["at_ms"].as_i64())
    };
    until("the watcher to hold its session", || seen().is_some());
    let first = seen();
    until("the watcher to renew its session", || seen() > first);
    held.kill();
    until("the watcher to record the end", || {
        w.state("held") == "dead"
    });
    let _ = watch.kill();
    let _ = watch.wait();
}

/// Waits, at most ten seconds, until `done`.
fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
