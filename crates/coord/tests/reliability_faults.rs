//! Store faults in the middle of a run: the Redis server frozen (connections made, never
//! answered, as when black-holed), killed, restarted with its data, and restarted empty, while
//! an agent's hooks keep firing. Every hook returns within 300 ms with exit 0 and no output;
//! once the server is back the next hook lands (and re-registers a session the store lost);
//! and the outage is nobody's death.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Sleeper, World, publish, scaled};
use serde_json::Value;
use support::RedisServer;

/// One hook invocation as an agent makes it: how long it took, and whether it was silent
/// success (exit 0, no output).
struct Fired {
    took: Duration,
    clean: bool,
}

fn fire(w: &World, host: &str, session: &str) -> Fired {
    let start = Instant::now();
    let event = format!(r#"{{"session_id":"{session}","hook_event_name":"PostToolUse"}}"#);
    let out = w.hook_on(host, "PostToolUse", event.as_bytes());
    Fired {
        took: start.elapsed(),
        clean: out.status.code() == Some(0) && out.stdout.is_empty() && out.stderr.is_empty(),
    }
}

fn beats(w: &World, id: &str) -> Option<u64> {
    let out = w.run(&["show", id, "--json"]);
    if !out.status.success() {
        return None;
    }
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["session"]["beats"].as_u64()
}

/// Freezes, kills and restarts, and empties the server, a round at a time, while the hooks
/// fire; after each, a hook must land. Returns how many faults it made.
fn outages(
    redis: &mut RedisServer,
    w: &World,
    agent: &Sleeper,
    wait_for_a_hook: &dyn Fn(),
) -> usize {
    let outage = Duration::from_millis(u64::try_from(scaled(1_000, 5_000)).unwrap());
    let host = |args: &[&str]| w.on_host("laptop", args);
    let mut faults = 0;
    for round in 0..scaled(1, 5) {
        thread::sleep(Duration::from_millis(200));
        let before = beats(w, "busy").unwrap();

        redis.freeze();
        thread::sleep(outage);
        redis.thaw();
        wait_for_a_hook();
        let after_freeze = beats(w, "busy").unwrap();
        assert!(
            after_freeze > before,
            "round {round}: hooks land again after a freeze"
        );

        redis.stop();
        thread::sleep(outage);
        redis.start_again();
        wait_for_a_hook();
        let after_restart = beats(w, "busy").unwrap();
        assert!(
            after_restart > after_freeze,
            "round {round}: the data came back, and hooks land"
        );

        // A server that comes back empty: the next hook registers the session again.
        redis.flush();
        wait_for_a_hook();
        assert!(
            beats(w, "busy").is_some(),
            "round {round}: the next hook healed the record"
        );
        host(&[
            "register",
            "--id",
            "quiet",
            "--pid",
            &agent.pid(),
            "--ttl",
            "30s",
        ]);
        faults += 3;
    }
    faults
}

#[test]
fn a_redis_outage_mid_run_never_holds_a_hook_and_the_next_hook_heals() {
    let mut redis = RedisServer::start_durable();
    let w = World::on(redis.url().to_string());
    // Two sessions on the laptop: `busy` fires hooks all along, `quiet` (in a long tool call)
    // fires none. The sweep runs elsewhere, as a server's would.
    let agent = Sleeper::start();
    let host = |args: &[&str]| w.on_host("laptop", args);
    host(&[
        "register",
        "--id",
        "quiet",
        "--pid",
        &agent.pid(),
        "--ttl",
        "30s",
    ]);
    host(&[
        "register",
        "--id",
        "busy",
        "--pid",
        &agent.pid(),
        "--ttl",
        "30s",
    ]);

    // The agent's hooks, every 20 ms, for the whole run.
    let stop = Arc::new(AtomicBool::new(false));
    let fired: Arc<Mutex<Vec<Fired>>> = Arc::default();
    let hooks = {
        let (stop, fired, url) = (stop.clone(), fired.clone(), w.url());
        thread::spawn(move || {
            let w = World::on(url);
            while !stop.load(Ordering::Relaxed) {
                let f = fire(&w, "laptop", "busy");
                fired.lock().unwrap().push(f);
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let wait_for_a_hook = || {
        let n = fired.lock().unwrap().len();
        while fired.lock().unwrap().len() < n + 2 {
            thread::sleep(Duration::from_millis(10));
        }
    };
    let faults = outages(&mut redis, &w, &agent, &wait_for_a_hook);
    stop.store(true, Ordering::Relaxed);
    hooks.join().unwrap();

    // No session is dead for the time coord could not hear it: a sweep from another host,
    // right after, evicts nobody.
    let sweep = w
        .cmd()
        .env("COORD_HOST", "server")
        .args(["sweep", "--grace", "0s"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&sweep.stdout);
    assert!(
        sweep.status.success() && !said.contains("evicted"),
        "{said}"
    );
    let ps = w.ps();
    for s in ps["sessions"].as_array().unwrap() {
        assert!(s["state"] != "dead" && s["state"] != "unknown", "{s}");
    }

    let fired = fired.lock().unwrap();
    let slowest = fired.iter().map(|f| f.took).max().unwrap();
    let unclean = fired.iter().filter(|f| !f.clean).count();
    assert_eq!(unclean, 0, "every hook exits 0 silently");
    assert!(
        slowest <= Duration::from_millis(300),
        "a hook took {slowest:?}"
    );
    publish(
        "store-faults",
        &[
            ("backend", "redis".to_owned()),
            ("faults", faults.to_string()),
            ("hooks", fired.len().to_string()),
            ("slowest_hook_ms", slowest.as_millis().to_string()),
            ("nonzero_exits", unclean.to_string()),
            ("evicted", "0".to_owned()),
        ],
    );
}
