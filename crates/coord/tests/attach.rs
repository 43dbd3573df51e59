//! `coord attach`: a person is taken to the agent's tmux pane, with real tmux and a real
//! terminal (`script` gives the tmux client a pseudo-terminal): inside tmux the client
//! switches to the pane, outside it a client attaches; a session on another host gets the line
//! to run there, and one in no pane or in a pane that is gone gets the reason.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::World;
use common::tmux::{Tmux, run_in_tmux};

/// Waits until the private server's clients show exactly `sessions` (each client's session).
fn clients_become(t: &Tmux, sessions: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = String::new();
    while Instant::now() < deadline {
        let out = t.tmux(&["list-clients", "-F", "#{client_session} #{pane_index}"]);
        seen = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut now: Vec<&str> = seen.lines().collect();
        now.sort_unstable();
        if now == sessions {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the tmux clients are {seen:?}, not {sessions:?}");
}

/// `command` run by `sh -c` on a pseudo-terminal of its own, as in a person's terminal.
fn in_a_terminal(t: &Tmux, w: &World, command: &str) -> Child {
    Command::new("script")
        .args(["-qfc", command, "/dev/null"])
        .env("TMUX_TMPDIR", t.dir.path())
        .env("COORD_URL", w.url())
        .env("HOME", w.dir.path())
        .env_remove("TMUX")
        // Kept open and silent: at its end `script` would type ^D into the pane.
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("script(1) from util-linux")
}

#[test]
fn inside_tmux_the_client_switches_to_the_agents_pane() {
    let (w, t) = (World::new(), Tmux::new());
    run_in_tmux(&w, &t, "agent", &[], "sleep 60");
    let labels = &w.session("agent").expect("registered")["labels"];
    assert_eq!(labels["tmux"], "agent:0.0", "{labels}");
    assert!(
        labels.get("tmux-socket").is_none(),
        "the default server is not named: {labels}"
    );

    // The person works in a tmux session of their own, in a terminal.
    assert!(
        t.tmux(&["new-session", "-d", "-s", "person", "sh"])
            .status
            .success()
    );
    let mut client = in_a_terminal(&t, &w, "tmux attach -t person");
    clients_become(&t, &["person 0"]);
    let coord = format!("{} attach agent", common::COORD);
    assert!(
        t.tmux(&["send-keys", "-t", "person", &coord, "Enter"])
            .status
            .success()
    );
    clients_become(&t, &["agent 0"]);
    let _ = client.kill();
    let _ = client.wait();
}

#[test]
fn outside_tmux_a_client_attaches_to_the_pane() {
    let (w, t) = (World::new(), Tmux::new());
    run_in_tmux(&w, &t, "agent", &[], "sleep 60");
    let coord = format!("{} attach agent", common::COORD);
    let mut client = in_a_terminal(&t, &w, &coord);
    clients_become(&t, &["agent 0"]);
    let _ = client.kill();
    let _ = client.wait();

    let printed = t
        .cmd(&w)
        .args(["attach", "agent", "--print"])
        .output()
        .unwrap();
    assert!(printed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout).trim(),
        "tmux attach -t agent:0.0"
    );
}

#[test]
fn a_session_on_another_host_gets_the_line_to_run_there() {
    let w = World::new();
    w.on_host(
        "build-7",
        &[
            "register",
            "--id",
            "far",
            "--label",
            "tmux=work:1.2",
            "--label",
            "tmux-socket=/tmp/s 1",
        ],
    );
    let out = w.run(&["attach", "far"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ssh build-7 -t tmux -S '/tmp/s 1' attach -t work:1.2"
    );
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(
        why.contains("far runs on build-7, not on this host"),
        "{why}"
    );
}

#[test]
fn no_pane_or_a_pane_gone_is_said_precisely() {
    let (w, t) = (World::new(), Tmux::new());
    let _plain = w.registered("plain", &[]);
    let out = w.run(&["attach", "plain"]);
    assert_eq!(out.status.code(), Some(1));
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("plain runs in no tmux pane"), "{why}");

    run_in_tmux(&w, &t, "agent", &[], "sleep 60");
    assert!(t.tmux(&["kill-session", "-t", "agent"]).status.success());
    let out = t.cmd(&w).args(["attach", "agent"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(
        why.contains("the pane `agent:0.0` of agent is gone"),
        "{why}"
    );

    let out = w.run(&["attach", "nobody"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session `nobody`"));
}

#[test]
fn in_coord_top_enter_takes_the_client_to_the_selected_agent() {
    let (w, t) = (World::new(), Tmux::new());
    run_in_tmux(&w, &t, "agent", &[], "sleep 60");
    // The person watches the fleet in coord top, in a tmux session of their own.
    let url = format!("COORD_URL={}", w.url());
    let home = format!("HOME={}", w.dir.path().display());
    let top = format!("{} top", common::COORD);
    let started = t.tmux(&[
        "new-session",
        "-d",
        "-s",
        "person",
        "-x",
        "160",
        "-y",
        "45",
        "-e",
        &url,
        "-e",
        &home,
        "-e",
        "TERM=xterm-256color",
        &top,
    ]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let mut client = in_a_terminal(&t, &w, "tmux attach -t person");
    clients_become(&t, &["person 0"]);
    let shows = |what: &str, seen: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut screen = String::new();
        while Instant::now() < deadline {
            let out = t.tmux(&["capture-pane", "-p", "-t", "person"]);
            screen = String::from_utf8_lossy(&out.stdout).into_owned();
            if seen(&screen) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("coord top never showed {what}:\n{screen}");
    };
    // Listed, while the view may still be redrawing for the client's size: keys that come
    // with a resize are not lost.
    shows("the agent", &|screen| screen.contains("agent  shell"));

    // The first row selected, Enter: the person's client is on the agent's pane.
    assert!(
        t.tmux(&["send-keys", "-t", "person", "Down", "Enter"])
            .status
            .success()
    );
    clients_become(&t, &["agent 0"]);
    // The view went on, and says how to come back.
    let said = "this tmux client went to agent (pane agent:0.0)";
    shows(said, &|screen| screen.contains(said));
    let _ = client.kill();
    let _ = client.wait();
}
