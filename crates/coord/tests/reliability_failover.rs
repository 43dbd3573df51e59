//! Failover reliability: a fleet on a Redis watched by three sentinels, with two replicas, whose
//! master is killed mid-run again and again (20 times here, 100 under `bench/reliability`),
//! with hooks and sweeps running all the while. Each time: every hook exits 0, silently,
//! within 300 ms; the fleet is heard again once a replica is promoted; claims on both sides
//! of the failover get tokens that only grow; no sweep evicts anybody.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Sleeper, World, percentile, publish, scaled};
use serde_json::Value;
use support::SentinelSet;

/// The longest a hook may take, failover or not.
const HOOK_LIMIT: Duration = Duration::from_millis(300);

/// How long a command may keep failing while a failover settles.
const SETTLE: Duration = Duration::from_secs(30);

/// Runs `cmd`'s args on `w` until it succeeds (a failover may refuse it for a moment), for at
/// most [`SETTLE`].
fn ok_eventually(w: &World, args: &[&str]) -> String {
    let deadline = Instant::now() + SETTLE;
    loop {
        let out = w.run(args);
        if out.status.success() {
            return String::from_utf8(out.stdout).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "coord {args:?} kept failing: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One hook event of `session`, timed; it must exit 0 and print nothing.
fn hook(w: &World, session: &str) -> Duration {
    let event = format!(r#"{{"session_id":"{session}","hook_event_name":"PostToolUse"}}"#);
    let start = Instant::now();
    let out = w.hook_on("host-a", "PostToolUse", event.as_bytes());
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    took
}

/// When the store last heard `session` (ms), if it knows it.
fn last_seen(w: &World, session: &str) -> Option<i64> {
    w.session(session)?["last_seen_ms"].as_i64()
}

#[test]
fn killing_the_master_again_and_again_never_reissues_a_token_nor_kills_a_session() {
    let kills = scaled(20, 100);
    let mut set = SentinelSet::start_with("fleet", 2, 3);
    let w = World::on(set.url().to_string());
    let agents: Vec<Sleeper> = (0..3)
        .map(|i| w.registered(&format!("agent-{i}"), &[]))
        .collect();
    for i in 0..2 * kills {
        w.ok(&["task", "add", "--id", &format!("t{i}"), "work"]);
    }

    let mut tokens: Vec<u64> = Vec::new();
    let mut claim = |agent: usize| {
        let session = format!("agent-{agent}");
        let out = ok_eventually(&w, &["task", "claim", "--session", &session]);
        let mut words = out.split_whitespace();
        let (task, token) = (words.next().unwrap().to_owned(), words.next().unwrap());
        tokens.push(token.parse::<u64>().unwrap());
        ok_eventually(&w, &["task", "complete", &task, "--token", token]);
    };
    let hook_times = Mutex::new(Vec::new());
    let mut cycle_times = Vec::new();
    for round in 0..kills {
        let session = format!("claude-{}", round % 2);
        hook_times.lock().unwrap().push(hook(&w, &session));
        claim(round % 3);
        let before = last_seen(&w, &session).expect("the hook's session is known");

        // Kill the master while hooks keep firing and the fleet is swept, until a replica is
        // promoted. A sweep fails while nobody is master, and must evict nobody after.
        let start = Instant::now();
        let promoted = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !promoted.load(Ordering::Relaxed) {
                    let took = hook(&w, "claude-busy");
                    hook_times.lock().unwrap().push(took);
                    w.run(&["sweep"]);
                }
            });
            set.kill_master();
            promoted.store(true, Ordering::Relaxed);
        });
        cycle_times.push(start.elapsed());

        // Heard again after the promotion, and claims on the new master.
        let deadline = Instant::now() + SETTLE;
        loop {
            hook_times.lock().unwrap().push(hook(&w, &session));
            if last_seen(&w, &session).is_some_and(|seen| seen > before) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{session} is not heard after the failover"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        claim((round + 1) % 3);
        ok_eventually(&w, &["sweep"]);
        set.restart_stopped();
    }

    // Every token seen, in the order seen: a token not past the one before was handed out
    // again or out of order.
    let reissued = tokens.windows(2).filter(|t| t[1] <= t[0]).count();
    let events: Value = serde_json::from_str(&w.ok(&["events", "--json"])).unwrap();
    let evicted: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "evicted")
        .collect();
    let dead: Vec<String> = (0..3)
        .map(|i| format!("agent-{i}"))
        .filter(|id| matches!(w.state(id).as_str(), "dead" | "unknown"))
        .collect();
    drop(agents);

    let mut hooks: Vec<f64> = hook_times
        .into_inner()
        .unwrap()
        .iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    hooks.sort_by(f64::total_cmp);
    let slowest = *hooks.last().unwrap();
    let mut cycles: Vec<f64> = cycle_times.iter().map(Duration::as_secs_f64).collect();
    cycles.sort_by(f64::total_cmp);
    publish(
        "failover",
        &[
            ("kills", kills.to_string()),
            ("claims", tokens.len().to_string()),
            ("reissued", reissued.to_string()),
            ("false_deaths", (evicted.len() + dead.len()).to_string()),
            ("hooks", hooks.len().to_string()),
            ("hook_p99_ms", format!("{:.0}", percentile(&hooks, 99))),
            ("hook_max_ms", format!("{slowest:.0}")),
            ("promotion_p50_s", format!("{:.1}", percentile(&cycles, 50))),
        ],
    );
    assert_eq!(reissued, 0, "tokens in the order seen: {tokens:?}");
    assert!(evicted.is_empty(), "evicted in a failover: {evicted:?}");
    assert!(dead.is_empty(), "judged dead after a failover: {dead:?}");
    assert!(
        slowest <= HOOK_LIMIT.as_secs_f64() * 1e3,
        "a hook took {slowest:.0} ms"
    );
}
