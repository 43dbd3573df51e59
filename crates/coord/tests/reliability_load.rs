//! Load: 200 real processes at once, each running its share of heartbeats and task claims
//! through the real binary, on the embedded store and on Redis. Every update must land (exact
//! counts, no task claimed twice or lost), no call may fail, and each worker times its own
//! calls so that the latency of one heartbeat under that load is printed (not asserted: it
//! depends on the machine). `COORD_RELIABILITY_SCALE=full` runs 100 calls a process, as
//! `bench/reliability` does; CI runs 10.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{COORD, Sleeper, World, percentile, publish, scaled};
use serde_json::Value;
use support::RedisServer;

const PROCESSES: usize = 200;

/// One load at a time: two would share the machine and each measure the other.
static MACHINE: Mutex<()> = Mutex::new(());

/// One worker: `calls` calls, every `claim_every`th a `task claim` for its own session `w<i>`,
/// the others heartbeats alternating between the shared session and its own. It logs each
/// call's latency in microseconds (`beat <id> <us>` or `claim <us> <task> <token>`), timed by
/// bash's own clock (no process of its own), and stops at the first failure.
const WORKER: &str = r#"
i=$1 calls=$2 claim_every=$3 log=$4
for ((k = 0; k < calls; k++)); do
  if (( k % claim_every == claim_every - 1 )); then
    t0=$EPOCHREALTIME
    "$COORD" task claim --session "w$i" > "$log.claim" || { echo "call $k: claim failed" >&2; exit 1; }
    t1=$EPOCHREALTIME
    read -r task token < "$log.claim"
    echo "claim $(( ${t1/./} - ${t0/./} )) $task $token" >> "$log"
  else
    if (( k % 2 )); then id="w$i"; else id=shared; fi
    t0=$EPOCHREALTIME
    "$COORD" heartbeat --id "$id" || { echo "call $k: heartbeat failed" >&2; exit 1; }
    t1=$EPOCHREALTIME
    echo "beat $id $(( ${t1/./} - ${t0/./} ))" >> "$log"
  fi
done
"#;

/// What the workers said they did, as their logs tell.
#[derive(Default)]
struct Logged {
    beats: BTreeMap<String, u64>,
    beat_us: Vec<f64>,
    claim_us: Vec<f64>,
    /// task -> (session, token)
    claims: BTreeMap<String, (String, u64)>,
    tokens: BTreeSet<u64>,
}

impl Logged {
    fn read(dir: &Path, processes: usize) -> Self {
        let mut all = Self::default();
        for i in 0..processes {
            let log = std::fs::read_to_string(dir.join(format!("w{i}.log"))).unwrap();
            for line in log.lines() {
                let words: Vec<&str> = line.split(' ').collect();
                match words[..] {
                    ["beat", id, us] => {
                        *all.beats.entry(id.to_owned()).or_default() += 1;
                        all.beat_us.push(us.parse().unwrap());
                    }
                    ["claim", us, task, token] => {
                        all.claim_us.push(us.parse().unwrap());
                        let token: u64 = token.parse().unwrap();
                        assert!(all.tokens.insert(token), "token {token} given twice");
                        let earlier = all.claims.insert(task.to_owned(), (format!("w{i}"), token));
                        assert!(earlier.is_none(), "{task} claimed twice: {earlier:?}, w{i}");
                    }
                    _ => panic!("w{i}: {line}"),
                }
            }
        }
        all
    }
}

fn ms(sorted: &[f64], p: usize) -> String {
    format!("{:.2}", percentile(sorted, p) / 1000.0)
}

/// Starts the workers at once and waits for all: how long they took, and what failed.
fn run_workers(w: &World, calls: usize, claim_every: usize) -> (Duration, Vec<String>) {
    let start = Instant::now();
    let workers: Vec<_> = (0..PROCESSES)
        .map(|i| {
            let log = w.dir.path().join(format!("w{i}.log"));
            Command::new("bash")
                .args(["-c", WORKER, "worker", &i.to_string(), &calls.to_string()])
                .arg(claim_every.to_string())
                .arg(&log)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", w.dir.path())
                .env("COORD_URL", w.url())
                .env("COORD", COORD)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut errors = Vec::new();
    for (i, worker) in workers.into_iter().enumerate() {
        let out = worker.wait_with_output().unwrap();
        if !out.status.success() {
            errors.push(format!("w{i}: {}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    (start.elapsed(), errors)
}

/// Runs the load on `w` and checks every count against the store.
fn load(w: &World, backend: &str) {
    let _alone = MACHINE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let calls = scaled(10, 100);
    let claim_every = scaled(5, 10);
    let claims_each = calls / claim_every;
    let agent = Sleeper::start();
    w.ok(&["register", "--id", "shared", "--pid", &agent.pid()]);
    for i in 0..PROCESSES {
        w.ok(&["register", "--id", &format!("w{i}"), "--pid", &agent.pid()]);
        for c in 0..claims_each {
            w.ok(&["task", "add", "--id", &format!("t{i}-{c}"), "work"]);
        }
    }

    let (took, errors) = run_workers(w, calls, claim_every);
    assert!(
        errors.is_empty(),
        "{} workers failed: {errors:?}",
        errors.len()
    );

    let mut logged = Logged::read(w.dir.path(), PROCESSES);
    let beats_total = PROCESSES * (calls - claims_each);
    assert_eq!(
        logged.beat_us.len(),
        beats_total,
        "every worker ran to its end"
    );
    assert_eq!(logged.claims.len(), PROCESSES * claims_each);

    // Every acknowledged heartbeat is in the store: the shared record, and each worker's own.
    let ps = w.ps();
    let (mut lost, mut phantom) = (0, 0);
    for s in ps["sessions"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        let stored = s["beats"].as_u64().unwrap();
        let acked = logged.beats.get(id).copied().unwrap_or(0);
        lost += acked.saturating_sub(stored);
        phantom += stored.saturating_sub(acked);
    }
    assert_eq!(
        (lost, phantom),
        (0, 0),
        "beats lost, and beats from nowhere"
    );
    // Every task is held once, by the worker that was told it won it, under its token.
    let tasks: Value = serde_json::from_str(&w.ok(&["task", "list", "--json"])).unwrap();
    let tasks = tasks["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), PROCESSES * claims_each, "no task lost");
    for t in tasks {
        let id = t["id"].as_str().unwrap();
        let (session, token) = &logged.claims[id];
        assert_eq!(
            (
                t["state"].as_str(),
                t["session"].as_str(),
                t["token"].as_u64()
            ),
            (Some("claimed"), Some(session.as_str()), Some(*token)),
            "{id}"
        );
    }

    logged.beat_us.sort_by(f64::total_cmp);
    logged.claim_us.sort_by(f64::total_cmp);
    publish(
        "load",
        &[
            ("backend", backend.to_owned()),
            ("processes", PROCESSES.to_string()),
            ("calls_each", calls.to_string()),
            ("heartbeats", beats_total.to_string()),
            ("claims", logged.claims.len().to_string()),
            ("errors", errors.len().to_string()),
            ("lost", lost.to_string()),
            ("beat_p50_ms", ms(&logged.beat_us, 50)),
            ("beat_p99_ms", ms(&logged.beat_us, 99)),
            ("claim_p50_ms", ms(&logged.claim_us, 50)),
            ("claim_p99_ms", ms(&logged.claim_us, 99)),
            ("seconds", format!("{:.1}", took.as_secs_f64())),
        ],
    );
}

#[test]
fn two_hundred_processes_beating_and_claiming_on_sqlite_lose_nothing() {
    load(&World::new(), "sqlite");
}

#[test]
fn two_hundred_processes_beating_and_claiming_on_redis_lose_nothing() {
    let server = RedisServer::start();
    load(&World::on(server.url().to_string()), "redis");
}
