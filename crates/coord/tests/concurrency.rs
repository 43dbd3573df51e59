//! Many real processes heartbeating one embedded store at once: every update lands.

mod common;

use common::{Sleeper, World, hammer};

const PROCESSES: usize = 16;
const BEATS: usize = 200;

#[test]
fn sixteen_processes_times_two_hundred_heartbeats_on_one_session_lose_nothing() {
    let w = World::new();
    let agent = Sleeper::start();
    w.ok(&["register", "--id", "shared", "--pid", &agent.pid()]);
    hammer(&w.url(), PROCESSES, BEATS, |_| "shared".to_owned());
    assert_eq!(w.session("shared").unwrap()["beats"], PROCESSES * BEATS);
}

#[test]
fn sixteen_processes_times_two_hundred_heartbeats_on_their_own_sessions_lose_nothing() {
    let w = World::new();
    let agent = Sleeper::start();
    for i in 0..PROCESSES {
        w.ok(&["register", "--id", &format!("s{i}"), "--pid", &agent.pid()]);
    }
    hammer(&w.url(), PROCESSES, BEATS, |i| format!("s{i}"));
    let ps = w.ps();
    let sessions = ps["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), PROCESSES);
    for s in sessions {
        assert_eq!(s["beats"], BEATS, "{}", s["id"]);
    }
}
