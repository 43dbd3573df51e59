//! Many real processes heartbeating one embedded store at once: every update lands.

mod common;

use std::process::{Command, Stdio};

use common::{COORD, Sleeper, World};

const PROCESSES: usize = 16;
const BEATS: usize = 200;

/// Starts `PROCESSES` shells that each run `coord heartbeat --id <id>` `BEATS` times and fail
/// on the first error; `id(i)` names the session of shell `i`.
fn hammer(w: &World, id: impl Fn(usize) -> String) {
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            let script = format!(
                "i=0; while [ $i -lt {BEATS} ]; do {COORD} heartbeat --id {} || exit 1; i=$((i+1)); done",
                id(i)
            );
            Command::new("sh")
                .args(["-c", &script])
                .env("COORD_URL", w.url())
                .stdin(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a heartbeat failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn sixteen_processes_times_two_hundred_heartbeats_on_one_session_lose_nothing() {
    let w = World::new();
    let agent = Sleeper::start();
    w.ok(&["register", "--id", "shared", "--pid", &agent.pid()]);
    hammer(&w, |_| "shared".to_owned());
    assert_eq!(w.session("shared").unwrap()["beats"], PROCESSES * BEATS);
}

#[test]
fn sixteen_processes_times_two_hundred_heartbeats_on_their_own_sessions_lose_nothing() {
    let w = World::new();
    let agent = Sleeper::start();
    for i in 0..PROCESSES {
        w.ok(&["register", "--id", &format!("s{i}"), "--pid", &agent.pid()]);
    }
    hammer(&w, |i| format!("s{i}"));
    let ps = w.ps();
    let sessions = ps["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), PROCESSES);
    for s in sessions {
        assert_eq!(s["beats"], BEATS, "{}", s["id"]);
    }
}
