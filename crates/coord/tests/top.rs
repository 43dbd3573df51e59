//! `coord top` in a real terminal: the real binary inside a private tmux server, read back with
//! `capture-pane`. Sessions in several states show with their colour and reason; a session
//! killed while the view runs turns dead on screen; the hosts show with their state, last
//! signal and sessions, and a host that wakes turns heard; keys sort and explain; `q`, Ctrl-C and
//! SIGTERM give the shell its terminal back as it was. The view reads any store: embedded,
//! Redis (and outlives its going away), `coord serve`.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::serve::Served;
use common::{COORD, Sleeper, World};
use support::RedisServer;

/// A private tmux server (its own socket in a temp dir) with one shell in an 160×45 pane.
struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    /// Starts the server with a plain `sh` whose environment points coord at `w`'s store.
    fn start(w: &World) -> Self {
        let t = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let bin = PathBuf::from(COORD).parent().unwrap().to_owned();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = t.tmux_env(
            &[
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "45",
                "sh",
            ],
            &[
                ("PATH", path.as_str()),
                ("HOME", w.dir.path().to_str().unwrap()),
                ("COORD_URL", &w.url()),
                ("TERM", "xterm-256color"),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn tmux_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(self.socket())
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn tmux(&self, args: &[&str]) -> Output {
        self.tmux_env(args, &[])
    }

    /// Types `keys` (tmux key names: "q", "C-c", "Down", "Enter").
    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success());
    }

    /// Types a command line and runs it.
    fn type_line(&self, line: &str) {
        let mut args = vec!["send-keys", "-t", "0", "-l", line];
        assert!(self.tmux(&args).status.success());
        args = vec!["send-keys", "-t", "0", "Enter"];
        assert!(self.tmux(&args).status.success());
    }

    /// The screen as text; with `escapes`, with its colours as SGR sequences.
    fn screen(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-t", "0"];
        if escapes {
            args.push("-e");
        }
        String::from_utf8(self.tmux(&args).stdout).unwrap()
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{cursor_flag}`).
    fn format(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "0", format]);
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Waits until the screen satisfies `f`, up to 10 s; returns the screen.
    fn until(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(false);
            if f(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the screen never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The screen line that names `text` (the first).
fn line<'a>(screen: &'a str, text: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no line holds {text:?}:\n{screen}"))
}

/// The colour codes in force where `word` starts on the first line holding `anchor` and
/// `word`: the SGR parameters since the last reset before it.
fn colour_of(screen: &str, anchor: &str, word: &str) -> String {
    let l = screen
        .lines()
        .find(|l| l.contains(anchor) && l.contains(word))
        .unwrap_or_else(|| panic!("no line holds {anchor:?} and {word:?}:\n{screen}"));
    let before = &l[..l.find(word).unwrap()];
    let since_reset = before.rsplit("\x1b[0m").next().unwrap();
    let since_reset = since_reset.rsplit("\x1b[39m").next().unwrap();
    since_reset
        .split("\x1b[")
        .filter(|s| s.ends_with('m'))
        .map(|s| s.trim_end_matches('m'))
        .collect::<Vec<_>>()
        .join(";")
}

/// Four sessions: builder in a tool call, holding t-1 and the leader lease; reviewer idle;
/// crasher working (its process is returned, to be killed); finisher ended.
fn fleet(w: &World) -> (Sleeper, Sleeper, Sleeper) {
    let builder = w.registered("builder", &["--task", "build the release"]);
    let reviewer = w.registered("reviewer", &["--task", "review the pull request"]);
    let crasher = w.registered("crasher", &["--task", "migrate the schema"]);
    w.ok(&["register", "--id", "finisher", "--task", "write the notes"]);
    w.ok(&["unregister", "--id", "finisher"]);
    w.ok(&["task", "add", "--id", "t-1", "ship it"]);
    w.ok(&["task", "add", "--id", "t-2", "tag it"]);
    w.ok(&["task", "claim", "--session", "builder", "--task", "t-1"]);
    w.ok(&["heartbeat", "--id", "builder", "--lead"]);
    w.ok(&[
        "heartbeat",
        "--id",
        "builder",
        "--phase",
        "in-tool",
        "--tool",
        "cargo",
    ]);
    w.ok(&["heartbeat", "--id", "reviewer", "--phase", "waiting"]);
    (builder, reviewer, crasher)
}

#[test]
fn top_shows_the_states_follows_a_death_and_gives_the_terminal_back_on_q() {
    let w = World::new();
    let (_builder, _reviewer, mut crasher) = fleet(&w);
    let t = Tmux::start(&w);
    let stty = w.dir.path().join("stty");
    t.type_line(&format!(
        "stty -g > {0}.before; coord top; echo exit-$?",
        stty.display()
    ));
    // The first frame is drawn whole, top to bottom: once its last line shows, all of it does.
    let screen = t.until("the first frame", |s| {
        s.contains("coord top") && s.contains("r reload")
    });
    assert_eq!(
        t.format("#{alternate_on}"),
        "1",
        "the view takes the alternate screen"
    );

    let builder = line(&screen, "build the release");
    for text in ["builder", "in-tool", "running cargo", "t-1,leader"] {
        assert!(builder.contains(text), "{text:?} missing from {builder:?}");
    }
    let reviewer = line(&screen, "review the pull request");
    assert!(reviewer.contains("idle"), "{reviewer}");
    assert!(line(&screen, "migrate the schema").contains("active"));
    assert!(
        !screen.contains("write the notes"),
        "an ended session is hidden:\n{screen}"
    );
    assert!(line(&screen, "ship it").contains("claimed"));
    assert!(line(&screen, "tag it").contains("pending"));
    assert!(screen.contains("registered"), "the event log:\n{screen}");
    let colours = t.screen(true);
    assert!(
        colour_of(&colours, "build the release", "in-tool").contains('6'),
        "in-tool is cyan: {:?}",
        colour_of(&colours, "build the release", "in-tool")
    );

    crasher.kill();
    t.until("crasher dead", |s| {
        s.lines().any(|l| {
            l.contains("migrate the schema") && l.contains("dead") && l.contains("process gone")
        })
    });
    let red = colour_of(&t.screen(true), "migrate the schema", "dead");
    assert!(
        red.contains("38;5;1") || red.contains("31"),
        "dead is red: {red:?}"
    );

    t.send(&["5"]);
    t.until("in-tool, idle, dead: sorted by state", |s| {
        let at = |text: &str| s.find(text).unwrap_or(0);
        s.contains("STATE▲")
            && at("build the release") < at("review the pull request")
            && at("review the pull request") < at("migrate the schema")
    });
    t.send(&["End"]);
    t.until("the explanation", |s| {
        s.contains("crasher is dead: process gone")
            && s.contains("rule  dead: its process is known to have exited")
    });

    t.send(&["q"]);
    t.until("the shell", |s| s.contains("exit-0"));
    assert_eq!(t.format("#{alternate_on}"), "0", "back on the main screen");
    assert_eq!(t.format("#{cursor_flag}"), "1", "the cursor shows");
    t.type_line(&format!(
        "stty -g > {0}.after; echo done-$?",
        stty.display()
    ));
    t.until("the shell's answer", |s| s.contains("done-0"));
    let before = std::fs::read_to_string(stty.with_extension("before")).unwrap();
    let after = std::fs::read_to_string(stty.with_extension("after")).unwrap();
    assert_eq!(before, after, "the terminal modes are restored");
}

#[test]
fn top_shows_the_hosts_and_follows_a_host_that_wakes() {
    let w = World::new();
    let _here = w.registered("local", &["--task", "on this machine"]);
    let here = w.session("local").unwrap()["host"]
        .as_str()
        .unwrap()
        .to_owned();
    w.on_host(
        "laptop",
        &["register", "--id", "away", "--task", "on the laptop"],
    );
    w.on_host("laptop", &["host", "sleep"]);
    let t = Tmux::start(&w);
    t.type_line("coord top; echo exit-$?");
    let screen = t.until("the hosts", |s| {
        s.contains("Hosts (2)") && s.contains("r reload")
    });
    assert!(
        line(&screen, "Hosts (2)").contains("Tasks"),
        "beside the tasks:\n{screen}"
    );
    let header = line(&screen, "LAST HEARD");
    assert!(header.contains("SESSIONS"), "{header}");
    // A host's row (the fleet's rows name the hosts too, beside their tasks).
    let row = |name: &str, state: &str| -> String {
        screen
            .lines()
            .find(|l| l.contains(name) && l.contains(state) && !l.contains(" on "))
            .unwrap_or_else(|| panic!("no row of {name} {state}:\n{screen}"))
            .to_owned()
    };
    let laptop = row("laptop", "asleep");
    assert!(laptop.contains("(said so)"), "{laptop}");
    let heard = laptop.split_once("asleep").unwrap().1.trim_start();
    assert!(
        heard.starts_with("now") || heard.split_whitespace().nth(1) == Some("ago"),
        "its last signal: {laptop}"
    );
    assert!(laptop.contains("  1  "), "one session: {laptop}");
    assert!(row(&here, "heard").contains("  1  "), "{screen}");

    // The hosts pane takes the keys and explains the selected host (hosts go by name).
    let to_laptop = if here.as_str() < "laptop" {
        "End"
    } else {
        "Home"
    };
    t.send(&["Tab", "Tab", to_laptop]);
    t.until("the laptop explained", |s| {
        s.contains("laptop is asleep: asleep for") && s.contains("sessions away")
    });

    w.on_host("laptop", &["host", "wake"]);
    t.until("the laptop heard again", |s| {
        s.lines()
            .any(|l| l.contains("laptop") && l.contains("heard") && !l.contains("asleep"))
            && s.contains("laptop is heard")
    });
    t.send(&["q"]);
    t.until("the shell", |s| s.contains("exit-0"));
}

/// Starts `coord top` in a shell, leaves it by `leave`, and checks that the shell comes back
/// with the main screen, the cursor and its terminal modes as they were.
fn leaves_cleanly(leave: impl FnOnce(&Tmux)) {
    let w = World::new();
    let _agent = w.registered("solo", &["--task", "alone"]);
    let t = Tmux::start(&w);
    let stty = w.dir.path().join("stty");
    t.type_line(&format!(
        "stty -g > {0}.before; coord top; echo exit-$?; stty -g > {0}.after",
        stty.display()
    ));
    t.until("the fleet", |s| {
        s.contains("alone") && s.contains("r reload")
    });
    leave(&t);
    t.until("the shell", |s| s.contains("exit-0"));
    assert_eq!(t.format("#{alternate_on}"), "0", "back on the main screen");
    assert_eq!(t.format("#{cursor_flag}"), "1", "the cursor shows");
    let after = stty.with_extension("after");
    let start = Instant::now();
    while std::fs::read_to_string(&after)
        .unwrap_or_default()
        .is_empty()
    {
        assert!(start.elapsed() < Duration::from_secs(10), "stty never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = std::fs::read_to_string(stty.with_extension("before")).unwrap();
    assert_eq!(
        before,
        std::fs::read_to_string(after).unwrap(),
        "the terminal modes are restored"
    );
}

#[test]
fn ctrl_c_leaves_the_view_and_restores_the_terminal() {
    leaves_cleanly(|t| t.send(&["C-c"]));
}

#[test]
fn sigterm_leaves_the_view_and_restores_the_terminal() {
    leaves_cleanly(|t| {
        let shell = t.format("#{pane_pid}");
        let out = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        let view = String::from_utf8(out.stdout).unwrap();
        let view = view.split_whitespace().next().expect("coord-top runs");
        let killed = Command::new("kill").args(["-TERM", view]).status().unwrap();
        assert!(killed.success());
    });
}

#[test]
fn a_view_whose_terminal_goes_away_exits_instead_of_spinning() {
    let w = World::new();
    let _agent = w.registered("solo", &["--task", "alone"]);
    let t = Tmux::start(&w);
    t.type_line("coord top");
    t.until("the fleet", |s| {
        s.contains("alone") && s.contains("r reload")
    });
    let shell = t.format("#{pane_pid}");
    let out = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
    let view = String::from_utf8(out.stdout).unwrap();
    let view = view
        .split_whitespace()
        .next()
        .expect("coord-top runs")
        .to_owned();
    // The terminal goes away (its tmux server is killed): the view must end, not spin.
    assert!(t.tmux(&["kill-server"]).status.success());
    let proc_dir = PathBuf::from(format!("/proc/{view}"));
    let start = Instant::now();
    while proc_dir.exists() {
        let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        if state.contains(") Z ") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "coord-top {view} still runs after its terminal went away"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn on_redis_the_view_shows_the_fleet_and_outlives_the_server() {
    let server = RedisServer::start();
    let w = World::on(server.url().to_string());
    let _agent = w.registered("solo", &["--task", "alone on redis"]);
    let t = Tmux::start(&w);
    t.type_line("coord top; echo exit-$?");
    t.until("the fleet", |s| {
        s.lines()
            .any(|l| l.contains("alone on redis") && l.contains("active"))
            && s.contains("r reload")
    });
    drop(server);
    t.until("the outage, over the last reading", |s| {
        s.contains("cannot read the store") && s.contains("alone on redis")
    });
    t.send(&["q"]);
    t.until("the shell", |s| s.contains("exit-0"));
}

#[test]
fn through_coord_serve_the_view_shows_the_fleet() {
    let served = Served::start(World::new(), &[]);
    let w = World::on(served.url());
    let _agent = w.registered("remote", &["--task", "reached over http"]);
    w.ok(&["heartbeat", "--id", "remote", "--phase", "waiting"]);
    let t = Tmux::start(&w);
    t.type_line("coord top; echo exit-$?");
    t.until("the session, idle", |s| {
        s.lines()
            .any(|l| l.contains("reached over http") && l.contains("idle"))
            && s.contains("r reload")
    });
    t.send(&["q"]);
    t.until("the shell", |s| s.contains("exit-0"));
}

#[test]
fn top_without_a_terminal_or_with_too_short_an_interval_says_so() {
    let w = World::new();
    let out = w.run(&["top"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
    let out = w.run(&["top", "--interval", "10ms"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 100ms"), "{err}");
}
