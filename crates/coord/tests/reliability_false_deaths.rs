//! False deaths: a busy but healthy session is never evicted, and a dead one always is, within
//! its TTL and a sweep. Real processes, real hooks, sessions with a TTL of a second (and
//! `--grace 0s` on the sweep) so that "past the TTL" takes seconds, not half an hour.
//!
//! Healthy: a long tool call (its tool timeout an hour away), a permission prompt that waits
//! for a person, an agent stopped with SIGSTOP (as by a suspended host) and resumed; each
//! silent past its TTL while another session on its host keeps beating, so silence alone would
//! read as death. Dead: an agent killed with SIGKILL, and one that goes silent for good.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use common::{Sleeper, World, publish, scaled};
use support::RedisServer;

const TTL: Duration = Duration::from_secs(1);

fn hook(w: &World, host: &str, event: &str) {
    assert!(
        w.hook_on(host, "PostToolUse", event.as_bytes())
            .status
            .success()
    );
}

/// Runs a sweep from `host`; the sessions it evicted.
fn sweep(w: &World, host: &str) -> Vec<String> {
    let out = w
        .cmd()
        .env("COORD_HOST", host)
        .args(["sweep", "--grace", "0s"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("evicted"))
        .map(|l| l.trim().split(':').next().unwrap().to_owned())
        .collect()
}

/// One round on `w`: the healthy sessions and the dead ones on the laptop, a sweep from
/// `judge` (the laptop itself, or another host) once every TTL has run out; returns how long
/// the dead took to be evicted.
fn round(w: &World, judge: &str) -> Duration {
    let on_laptop = |args: &[&str]| w.on_host("laptop", args);
    let ttl = format!("{}s", TTL.as_secs());
    let register = |id: &str, agent: &Sleeper, extra: &[&str]| {
        let pid = agent.pid();
        let mut args = vec!["register", "--id", id, "--pid", &pid, "--ttl", &ttl];
        args.extend_from_slice(extra);
        on_laptop(&args);
    };
    let local = judge == "laptop";
    let (tool, asking, chatty) = (Sleeper::start(), Sleeper::start(), Sleeper::start());
    let (mut killed, silent, suspended) = (Sleeper::start(), Sleeper::start(), Sleeper::start());
    register("in-a-long-tool", &tool, &["--tool-timeout", "1h"]);
    register("asking", &asking, &[]);
    register("chatty", &chatty, &[]);
    register("killed", &killed, &[]);
    register("silent", &silent, &[]);
    hook(
        w,
        "laptop",
        r#"{"session_id":"in-a-long-tool","hook_event_name":"PreToolUse","tool_name":"Bash"}"#,
    );
    hook(
        w,
        "laptop",
        r#"{"session_id":"asking","hook_event_name":"PermissionRequest","tool_name":"Write"}"#,
    );
    // A process stopped (as its host's suspension stops it) is alive to whoever can look at
    // it: its own host. From elsewhere, a session silent past its TTL on a host still heard
    // has no evidence of life left, and goes (`silent` below).
    let stopped = rustix::process::Pid::from_raw(suspended.0.id() as i32).unwrap();
    if local {
        register("suspended", &suspended, &[]);
        rustix::process::kill_process(stopped, rustix::process::Signal::STOP).unwrap();
    }
    killed.kill();
    let died = Instant::now();

    // Past every TTL, with the laptop heard all along.
    let until = Instant::now() + TTL * 2;
    while Instant::now() < until {
        hook(
            w,
            "laptop",
            r#"{"session_id":"chatty","hook_event_name":"PostToolUse"}"#,
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut gone = sweep(w, judge);
    let eviction = died.elapsed();
    rustix::process::kill_process(stopped, rustix::process::Signal::CONT).unwrap();
    gone.sort();
    let expected = if local {
        ["killed"].as_slice()
    } else {
        ["killed", "silent"].as_slice()
    };
    assert_eq!(gone, expected, "judged from {judge}");
    for (id, state) in [("in-a-long-tool", "in-tool"), ("asking", "blocked")] {
        assert_eq!(w.state(id), state, "{id}");
    }
    if local {
        // Resumed, it carries on where it was.
        on_laptop(&["heartbeat", "--id", "suspended"]);
        assert_eq!(w.state("suspended"), "active");
    }
    eviction
}

/// Rounds judged from the laptop and from elsewhere, each on a fresh store from `fresh` (a
/// world, and whatever must live as long as it).
fn no_false_deaths<G>(backend: &str, fresh: impl Fn() -> (World, G)) {
    let rounds = scaled(1, 20);
    let mut slowest = Duration::ZERO;
    for _ in 0..rounds {
        for judge in ["laptop", "server"] {
            let (w, _guard) = fresh();
            slowest = slowest.max(round(&w, judge));
        }
    }
    publish(
        "false-deaths",
        &[
            ("backend", backend.to_owned()),
            ("rounds", (2 * rounds).to_string()),
            ("healthy_evicted", "0".to_owned()),
            ("dead_missed", "0".to_owned()),
            ("slowest_eviction_ms", slowest.as_millis().to_string()),
        ],
    );
}

#[test]
fn busy_healthy_sessions_are_never_evicted_and_dead_ones_always_are_on_sqlite() {
    no_false_deaths("sqlite", || (World::new(), ()));
}

#[test]
fn busy_healthy_sessions_are_never_evicted_and_dead_ones_always_are_on_redis() {
    no_false_deaths("redis", || {
        let server = RedisServer::start();
        (World::on(server.url().to_string()), server)
    });
}
