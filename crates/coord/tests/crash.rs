//! Writers killed with SIGKILL in the middle of their writes leave a store that opens clean
//! and holds every acknowledged write, on both backends: heartbeats, and tasks added, claimed
//! and completed by two sessions at once (none lost, none held twice). 50 kills a test in CI,
//! 1000 with `COORD_RELIABILITY_SCALE=full` (`bench/reliability`).

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{COORD, Rng, Sleeper, World, kill_group, publish, scaled, seed};
use serde_json::Value;
use support::RedisServer;

/// Runs `script` (bash, `$COORD` set) `rounds` times against `w`'s store, each time killing
/// its whole process group with SIGKILL at a random moment 2 to `within_ms` ms in; `$ROUND`
/// is the round's number.
fn kill_at_random(w: &World, script: &str, rounds: usize, within_ms: u64) {
    let mut rng = Rng(seed());
    for round in 0..rounds {
        let mut child = Command::new("bash")
            .args(["-c", script])
            .env("COORD_URL", w.url())
            .env("HOME", w.dir.path())
            .env("COORD", COORD)
            .env("ROUND", round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(
            2_000 + rng.next() % ((within_ms - 2) * 1000),
        ));
        kill_group(&mut child);
    }
    // Give killed grandchildren a moment to be reaped by init.
    std::thread::sleep(Duration::from_millis(100));
}

/// The store opens clean: SQLite's own check of the whole file (Redis runs each change as one
/// script, which a dead client cannot cut in half), then any command reads it.
fn assert_opens_clean(w: &World) {
    if w.url().starts_with("sqlite://") {
        let conn = rusqlite::Connection::open(w.db()).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
    w.ok(&["ps", "--all"]);
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn heartbeats_survive(w: &World, backend: &str) {
    let rounds = scaled(50, 1000);
    let agent = Sleeper::start();
    w.ok(&["register", "--id", "s", "--pid", &agent.pid()]);
    let acked = w.dir.path().join("acked");
    // Each round: a shell heartbeats in a loop and appends a line for every heartbeat coord
    // acknowledged (exit 0).
    let script = format!(
        r#"while :; do "$COORD" heartbeat --id s && echo >> {}; done"#,
        acked.display()
    );
    let start = Instant::now();
    kill_at_random(w, &script, rounds, 32);
    let took = start.elapsed();
    assert_opens_clean(w);
    let acknowledged = lines(&acked).len() as u64;
    let beats = w.session("s").unwrap()["beats"].as_u64().unwrap();
    assert!(acknowledged > 0, "the writers never got going");
    // A writer killed after its commit but before its acknowledgement was written adds one
    // beat that no line records: at most one per round.
    assert!(
        beats >= acknowledged && beats <= acknowledged + rounds as u64,
        "beats {beats}, acknowledged {acknowledged}"
    );
    // And the store still takes writes.
    w.ok(&["heartbeat", "--id", "s"]);
    publish(
        "crash-heartbeats",
        &[
            ("backend", backend.to_owned()),
            ("kills", rounds.to_string()),
            ("acknowledged", acknowledged.to_string()),
            ("lost", "0".to_owned()),
            ("seconds", format!("{:.1}", took.as_secs_f64())),
        ],
    );
}

#[test]
fn sigkill_in_the_middle_of_writes_loses_no_acknowledged_write() {
    heartbeats_survive(&World::new(), "sqlite");
}

#[test]
fn sigkill_in_the_middle_of_redis_writes_loses_no_acknowledged_write() {
    let server = RedisServer::start();
    heartbeats_survive(&World::on(server.url().to_string()), "redis");
}

/// Two sessions, `a` and `b`, each in a loop: add a task of its own, claim the oldest pending
/// task (the other's, maybe), complete it under its token; each step acknowledged in a file
/// of its own once coord said yes. Both are killed together at a random moment.
const TASK_WRITER: &str = r#"
writer() {
  s=$1 n=0
  while :; do
    t="$s-$ROUND-$n"; n=$((n + 1))
    "$COORD" task add --id "$t" work > /dev/null && echo "$t" >> "$DIR/added"
    claim=$("$COORD" task claim --session "$s") || continue
    echo "$claim" >> "$DIR/claimed-$s"
    read -r task token <<< "$claim"
    "$COORD" task complete "$task" --token "$token" && echo "$task" >> "$DIR/done-$s"
  done
}
writer a & writer b & wait
"#;

fn tasks_survive(w: &World, backend: &str) {
    let rounds = scaled(50, 1000);
    let agent = Sleeper::start();
    for s in ["a", "b"] {
        w.ok(&["register", "--id", s, "--pid", &agent.pid()]);
    }
    let dir = w.dir.path();
    let script = format!("DIR={}\n{TASK_WRITER}", dir.display());
    let start = Instant::now();
    // A cycle is three calls: give the writers time for a few.
    kill_at_random(w, &script, rounds, 150);
    let took = start.elapsed();
    assert_opens_clean(w);

    let list: Value = serde_json::from_str(&w.ok(&["task", "list", "--all", "--json"])).unwrap();
    let stored: BTreeMap<&str, &Value> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap(), t))
        .collect();
    let added = lines(&dir.join("added"));
    assert!(!added.is_empty(), "the writers never got going");
    for t in &added {
        assert!(
            stored.contains_key(t.as_str()),
            "{t} was added, and is lost"
        );
    }
    // At most one add, one claim and one completion per writer and round can land unseen (its
    // writer killed between coord's yes and the line).
    let unseen = 2 * rounds;
    assert!(stored.len() <= added.len() + unseen);

    let mut tokens = BTreeSet::new();
    let mut claimed = BTreeSet::new();
    for s in ["a", "b"] {
        for line in lines(&dir.join(format!("claimed-{s}"))) {
            let (task, token) = line.split_once(' ').unwrap();
            let token: u64 = token.parse().unwrap();
            assert!(tokens.insert(token), "token {token} given twice");
            assert!(claimed.insert(task.to_owned()), "{task} claimed twice");
            // Nobody else may ever hold it (its holder never died): still claimed under this
            // token, or done under it.
            let t = stored[task];
            let done_under_it = t["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["what"] == format!("done by {s} (token {token})"));
            let still_held = t["state"] == "claimed" && t["token"] == token;
            assert!(
                t["session"] == s && (still_held || done_under_it),
                "{s} {token}: {t}"
            );
        }
        for task in lines(&dir.join(format!("done-{s}"))) {
            let t = stored[task.as_str()];
            assert_eq!(
                (t["state"].as_str(), t["session"].as_str()),
                (Some("done"), Some(s))
            );
        }
    }
    let held = stored.values().filter(|t| t["state"] != "pending").count();
    assert!(held >= claimed.len() && held <= claimed.len() + unseen);
    // Each task a session holds is listed under that session alone.
    let mut holders: BTreeMap<String, String> = BTreeMap::new();
    for s in w.ps()["sessions"].as_array().unwrap() {
        for task in s["claims"].as_array().unwrap() {
            let task = task.as_str().unwrap().to_owned();
            let id = s["id"].as_str().unwrap().to_owned();
            if let Some(other) = holders.insert(task.clone(), id.clone()) {
                panic!("{task} held by {other} and {id}");
            }
            assert_eq!(stored[task.as_str()]["session"].as_str(), Some(id.as_str()));
        }
    }
    w.ok(&["task", "add", "--id", "after", "still takes work"]);
    publish(
        "crash-tasks",
        &[
            ("backend", backend.to_owned()),
            ("kills", rounds.to_string()),
            ("tasks", stored.len().to_string()),
            ("claims", claimed.len().to_string()),
            ("lost", "0".to_owned()),
            ("held_twice", "0".to_owned()),
            ("seconds", format!("{:.1}", took.as_secs_f64())),
        ],
    );
}

#[test]
fn sigkill_in_the_middle_of_task_claims_loses_no_task_and_gives_none_twice_on_sqlite() {
    tasks_survive(&World::new(), "sqlite");
}

#[test]
fn sigkill_in_the_middle_of_task_claims_loses_no_task_and_gives_none_twice_on_redis() {
    let server = RedisServer::start();
    tasks_survive(&World::on(server.url().to_string()), "redis");
}
