//! Life and death from the process itself: `coord watch`, `coord run` in the foreground and in
//! real tmux, with real processes that exit, are killed, hang, or lose their pane.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::{Tmux, run_in_tmux};
use common::{COORD, Sleeper, World};

/// Waits until `f` holds, up to `limit`; returns how long it took.
fn until(limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn the_watcher_records_a_death_at_once_and_exits() {
    let w = World::new();
    let mut agent = Sleeper::start();
    let mut watcher = w
        .cmd()
        .args([
            "watch",
            "--pid",
            &agent.pid(),
            "--id",
            "a",
            "--interval",
            "30s",
        ])
        .spawn()
        .unwrap();
    until(Duration::from_secs(5), || {
        w.session("a")
            .is_some_and(|s| s["process"]["state"] == "alive")
    });
    assert_eq!(w.state("a"), "active");
    agent.kill();
    let took = until(Duration::from_secs(5), || w.state("a") == "dead");
    assert!(
        took < Duration::from_secs(1),
        "death recorded after {took:?}"
    );
    let s = w.session("a").unwrap();
    assert!(s["signals"]["watch"].is_object());
    assert!(
        watcher.wait().unwrap().success(),
        "the watcher exits once the process is gone"
    );
}

#[test]
fn run_in_the_foreground_records_the_exit_code_and_passes_it_on() {
    let w = World::new();
    let out = w.run(&["run", "--id", "job", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    let s = w.session("job").unwrap();
    assert_eq!(s["state"], "dead");
    assert_eq!(
        s["reason"].as_str().unwrap().split(" (").next(),
        Some("process exited")
    );
    assert!(
        s["reason"].as_str().unwrap().contains("exit code 7"),
        "{}",
        s["reason"]
    );
}

#[test]
fn run_in_the_foreground_records_a_kill_by_signal() {
    let w = World::new();
    let mut run = w
        .cmd()
        .args(["run", "--id", "job", "--", "sleep", "30"])
        .spawn()
        .unwrap();
    until(Duration::from_secs(5), || w.session("job").is_some());
    let pid = w.session("job").unwrap()["pid"].as_u64().unwrap();
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(137));
    let s = w.session("job").unwrap();
    assert!(
        s["reason"].as_str().unwrap().contains("killed by signal 9"),
        "{}",
        s["reason"]
    );
}

#[test]
fn a_tmux_session_is_the_agent_and_closing_its_pane_kills_it() {
    let w = World::new();
    let t = Tmux::new();
    run_in_tmux(
        &w,
        &t,
        "agent-1",
        &[],
        "while :; do echo working; sleep 0.2; done",
    );
    let s = w.session("agent-1").unwrap();
    let pane: u64 = String::from_utf8(
        t.tmux(&["display-message", "-p", "-t", "agent-1", "#{pane_pid}"])
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    assert_eq!(
        s["pid"].as_u64(),
        Some(pane),
        "the pane's process is the session's"
    );
    assert_eq!(s["state"], "active");
    let log = std::path::PathBuf::from(s["log_path"].as_str().unwrap());
    until(Duration::from_secs(5), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("working"))
    });
    until(Duration::from_secs(5), || {
        w.session("agent-1")
            .is_some_and(|s| s["signals"]["watch"].is_object())
    });
    assert!(t.tmux(&["kill-session", "-t", "agent-1"]).status.success());
    let took = until(Duration::from_secs(5), || w.state("agent-1") == "dead");
    assert!(
        took < Duration::from_secs(1),
        "death recorded after {took:?}"
    );
}

#[test]
fn a_tmux_agent_whose_output_stops_while_it_lives_is_stale_and_one_that_writes_is_not() {
    let w = World::new();
    let t = Tmux::new();
    run_in_tmux(
        &w,
        &t,
        "hung",
        &["--stale-after", "1s"],
        "echo started; exec sleep 60",
    );
    run_in_tmux(
        &w,
        &t,
        "busy",
        &["--stale-after", "1s"],
        "while :; do echo more; sleep 0.2; done",
    );
    std::thread::sleep(Duration::from_millis(2500));
    let hung = w.session("hung").unwrap();
    assert_eq!(hung["state"], "stale", "{hung:#}");
    assert!(
        hung["reason"].as_str().unwrap().contains("process alive"),
        "{}",
        hung["reason"]
    );
    assert_eq!(w.state("busy"), "active", "a growing log is progress");
}

#[test]
fn the_watcher_refuses_a_pid_whose_process_is_not_running() {
    let w = World::new();
    let mut gone = Sleeper::start();
    let pid = gone.pid();
    gone.kill();
    let out = w.run(&["watch", "--pid", &pid, "--id", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(w.session("x").is_none());
    let _ = COORD;
}
