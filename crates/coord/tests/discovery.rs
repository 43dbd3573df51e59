//! Discovery by process, with real processes and a real tmux: agents that were running before
//! any coord command and never registered are listed by `coord ps` (a Codex keyed on the
//! rollout it holds open, in its tmux pane; pi with the default id; Gemini CLI's restarted
//! process, not its first one; a Codex TUI first as `<host>-<pid>`, then under its rollout's
//! id once it has one), their death is exact, and `coord watch --all` records it
//! within 100 ms. Processes that only look like agents are never listed.
//!
//! The stand-ins are real programs run under the agents' names (`argv[0]`), started with the
//! world's `HOME`, as discovery only lists the agents of its own `HOME`.

mod common;

use std::fs;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{World, exit_logged_at, now_ms};
use serde_json::Value;

/// A Codex turn that is over, as Codex writes it in its rollout.
const TURN_OVER: &str = r#"{"timestamp":"2026-01-02T03:04:06.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"t-1","last_agent_message":"done"}}"#;

/// A Codex turn that runs.
const TURN_STARTED: &str = r#"{"timestamp":"2026-01-02T03:04:05.000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"t-1"}}"#;

/// Writes a rollout for session `id` where Codex keeps them under the world's `HOME`.
fn rollout(w: &World, id: &str, lines: &[&str]) -> PathBuf {
    let dir = w.dir.path().join(".codex/sessions/2026/01/02");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("rollout-2026-01-02T03-04-05-{id}.jsonl"));
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// A process that lives until killed, killed when dropped.
struct Proc(Child);

impl Proc {
    /// `sleep 600` under the name `name`, with the world's `HOME`, holding `holds` open.
    fn named(w: &World, name: &str, holds: Option<&Path>) -> Self {
        let mut cmd = Command::new("sleep");
        cmd.arg0(name).arg("600").env("HOME", w.dir.path());
        if let Some(path) = holds {
            let file = fs::OpenOptions::new().append(true).open(path).unwrap();
            cmd.stdout(file);
        }
        Self::spawn(&mut cmd)
    }

    /// Starts `cmd` in a process group of its own, so that what it starts ends with it.
    fn spawn(cmd: &mut Command) -> Self {
        Self(cmd.stdin(Stdio::null()).process_group(0).spawn().unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let group = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private tmux server on its own socket, killed when dropped.
struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, w: &World, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(self.dir.path().join("sock"))
            .args(["-f", "/dev/null"])
            .args(args)
            .env("HOME", w.dir.path())
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Starts a detached session `name` in `cwd` whose pane runs `script` in bash; the PID of
    /// that bash (which the script may replace with `exec`).
    fn start(&self, w: &World, name: &str, cwd: &Path, script: &str) -> u32 {
        let pidfile = self.dir.path().join(format!("{name}.pid"));
        let command = format!("bash -c 'echo $$ > {}; {script}'", pidfile.display());
        let out = self.run(
            w,
            &[
                "new-session",
                "-d",
                "-s",
                name,
                "-c",
                &cwd.display().to_string(),
                &command,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pid = None;
        until(Duration::from_secs(5), || {
            pid = fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            pid.is_some()
        });
        pid.unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(self.dir.path().join("sock"))
            .arg("kill-server")
            .output();
    }
}

/// Waits until `f` holds, up to `limit`; how long it took.
fn until(limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// `argv[0]` of the process `pid`.
fn argv0(pid: u32) -> String {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let first = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(first).into_owned()
}

/// The sessions `coord ps --all --json` lists for the process `pid`.
fn sessions_of(w: &World, pid: u32) -> Vec<Value> {
    w.ps()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["pid"] == pid)
        .cloned()
        .collect()
}

fn kill9(pid: u32) {
    assert!(
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn a_codex_started_in_tmux_before_coord_is_listed_by_its_rollout_and_its_death_is_exact() {
    let w = World::new();
    let id = "019b0c6e-5d2a-7f31-9c44-2e8a1b7d3f60";
    let log = rollout(&w, id, &[TURN_STARTED, TURN_OVER]);
    let project = w.dir.path().join("project");
    fs::create_dir_all(&project).unwrap();
    let tmux = Tmux::new();
    // Codex holds its rollout open: here on descriptor 3 of a `sleep` run as `codex`.
    let pid = tmux.start(
        &w,
        "agents",
        &project,
        &format!("exec -a codex sleep 600 3>>{}", log.display()),
    );
    until(Duration::from_secs(5), || argv0(pid) == "codex");

    // The first coord command of all.
    let listed = sessions_of(&w, pid);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let s = &listed[0];
    assert_eq!(s["id"], id);
    assert_eq!(s["runtime"], "codex");
    assert_eq!(s["labels"]["tmux"], "agents:0.0");
    assert_eq!(
        s["cwd"],
        project.canonicalize().unwrap().display().to_string()
    );
    assert_eq!(s["log_path"], log.display().to_string());
    assert!(s["signals"]["probe"].is_object(), "{s:#}");
    // Its rollout says the turn is over.
    assert_eq!(s["state"], "idle", "{s:#}");
    // Listing again changes nothing: the same incarnation, still one session.
    let again = sessions_of(&w, pid);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["incarnation"], 1);

    // A new turn starts in the rollout: the session works again.
    std::thread::sleep(Duration::from_millis(20));
    fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{TURN_STARTED}\n").as_bytes()))
        .unwrap();
    assert_eq!(w.state(id), "active");

    kill9(pid);
    let s = w.session(id).unwrap();
    assert_eq!(s["state"], "dead", "{s:#}");
    assert_eq!(s["process"]["state"], "exited");
}

#[test]
fn without_tmux_on_the_path_the_agent_is_listed_all_the_same() {
    let w = World::new();
    let id = "019b0c6e-5d2a-7f31-9c44-2e8a1b7d3f61";
    let log = rollout(&w, id, &[TURN_STARTED]);
    let tmux = Tmux::new();
    let pid = tmux.start(
        &w,
        "agents",
        w.dir.path(),
        &format!("exec -a codex sleep 600 3>>{}", log.display()),
    );
    until(Duration::from_secs(5), || argv0(pid) == "codex");
    let out = common::succeed(
        w.cmd()
            .env("PATH", "/nonexistent")
            .args(["ps", "--all", "--json"]),
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    let s = doc["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .expect("the agent is listed");
    assert_eq!(s["pid"], pid);
    assert_eq!(s["state"], "active");
    assert!(s["labels"].get("tmux").is_none(), "{s:#}");
}

#[test]
fn the_watcher_holds_a_discovered_agent_and_records_its_death_within_100_ms() {
    let w = World::new();
    let id = "019b0c6e-5d2a-7f31-9c44-2e8a1b7d3f62";
    let log = rollout(&w, id, &[TURN_STARTED]);
    let agent = Proc::named(&w, "codex", Some(&log));
    let _watcher = Proc::spawn(
        w.cmd()
            .args(["watch", "--all", "--interval", "30s", "--no-hook-listen"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    // Its first round finds the agent and holds it: its proof of life says so.
    until(Duration::from_secs(5), || {
        w.session(id)
            .is_some_and(|s| s["process"]["state"] == "alive")
    });
    std::thread::sleep(Duration::from_millis(100));
    let killed_at = now_ms();
    kill9(agent.pid());
    until(Duration::from_secs(3), || exit_logged_at(&w, id).is_some());
    let latency = exit_logged_at(&w, id).unwrap() - killed_at;
    assert!(latency <= 100, "death recorded {latency} ms after SIGKILL");
    assert_eq!(w.state(id), "dead");
}

#[test]
fn a_codex_started_after_the_watcher_is_listed_as_it_writes_its_rollout() {
    let w = World::new();
    // Sessions of earlier days are there already; today's directory is not.
    rollout(&w, "019b0c6e-0000-7000-8000-000000000001", &[TURN_OVER]);
    let _watcher = Proc::spawn(
        w.cmd()
            .args(["watch", "--all", "--interval", "30s", "--no-hook-listen"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    std::thread::sleep(Duration::from_millis(300));
    // A new day: Codex makes its directory, opens its rollout, then writes its first turn.
    let id = "019b0c6e-5d2a-7f31-9c44-2e8a1b7d3f63";
    let dir = w.dir.path().join(".codex/sessions/2026/01/03");
    fs::create_dir_all(&dir).unwrap();
    let log = dir.join(format!("rollout-2026-01-03T03-04-05-{id}.jsonl"));
    fs::write(&log, "").unwrap();
    let agent = Proc::named(&w, "codex", Some(&log));
    until(Duration::from_secs(5), || argv0(agent.pid()) == "codex");
    fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(format!("{TURN_STARTED}\n").as_bytes())
        .unwrap();
    // The watcher's next round is 30 s away: the write wakes it.
    let waited = until(Duration::from_secs(5), || w.session(id).is_some());
    assert!(waited < Duration::from_secs(1), "listed after {waited:?}");
    assert_eq!(w.session(id).unwrap()["pid"], agent.pid());
}

#[test]
fn an_agent_without_a_rollout_has_the_default_id_and_a_known_process_is_not_listed_twice() {
    let w = World::new();
    let pi = Proc::named(&w, "pi", None);
    let opencode = Proc::named(&w, "/usr/local/bin/opencode", None);
    // Someone registered this one already, under a name of their own.
    w.ok(&[
        "register",
        "--id",
        "mine",
        "--pid",
        &opencode.pid().to_string(),
    ]);

    let listed = sessions_of(&w, pi.pid());
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let s = &listed[0];
    let host = s["host"].as_str().unwrap();
    assert_eq!(s["id"], format!("{host}-{}", pi.pid()));
    assert_eq!(s["runtime"], "pi");
    assert_eq!(s["state"], "active");

    let known = sessions_of(&w, opencode.pid());
    assert_eq!(known.len(), 1, "{known:#?}");
    assert_eq!(known[0]["id"], "mine");
}

#[test]
fn a_wrapper_gives_way_to_the_agent_process_below_it() {
    let w = World::new();
    // Gemini CLI's entry script, run by `node`, restarts itself once with other options (a
    // larger heap): two processes with the same entry script, parent and child. The stand-in
    // is bash run as `node`.
    let bin = w.dir.path().join("lib/node_modules/@google/gemini-cli/bin");
    fs::create_dir_all(&bin).unwrap();
    let script = bin.join("gemini");
    fs::write(
        &script,
        "if [ -z \"$RELAUNCHED\" ]; then\n\
         export RELAUNCHED=1\n\
         (exec -a node bash --norc \"$0\") &\n\
         wait\n\
         else\n\
         sleep 600 & wait\n\
         fi\n",
    )
    .unwrap();
    let first = Proc::spawn(
        Command::new("bash")
            .arg0("node")
            .arg(&script)
            .env("HOME", w.dir.path())
            .env_remove("RELAUNCHED"),
    );
    let mut child = None;
    until(Duration::from_secs(5), || {
        let out = Command::new("pgrep")
            .args(["-P", &first.pid().to_string()])
            .output()
            .unwrap();
        child = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok())
            .find(|p| argv0(*p) == "node");
        child.is_some()
    });
    let child = child.unwrap();

    let listed = sessions_of(&w, child);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["runtime"], "other");
    assert_eq!(listed[0]["labels"]["agent"], "gemini");
    assert!(
        sessions_of(&w, first.pid()).is_empty(),
        "the wrapper is listed too"
    );
}

#[test]
fn processes_that_only_look_like_agents_are_never_listed() {
    let w = World::new();
    let id = "019b0c6e-5d2a-7f31-9c44-2e8a1b7d3f63";
    let log = rollout(&w, id, &[TURN_STARTED]);
    // One real agent, so that a listing without the others shows discovery ran.
    let agent = Proc::named(&w, "codex", Some(&log));
    let helper = Proc::named(&w, "codex-helper", Some(&log));
    let grep = Proc::spawn(
        Command::new("grep")
            .arg("codex")
            .env("HOME", w.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    // A hook's shell, still running, whose command names codex.
    let hook = Proc::spawn(
        Command::new("sh")
            .args(["-c", "sleep 600; codex exec hi"])
            .env("HOME", w.dir.path()),
    );
    // A wrapper whose agent runs elsewhere: skipped, never shown dead.
    let docker = Proc::spawn(
        Command::new("bash")
            .arg0("docker")
            .args(["-c", "sleep 600", "exec", "-it", "box", "codex"])
            .env("HOME", w.dir.path()),
    );
    // coord itself, with an agent's name among its arguments.
    let coord = Proc::spawn(
        w.cmd()
            .args(["run", "--id", "codex", "--", "sleep", "600"])
            .stdout(Stdio::null()),
    );
    until(Duration::from_secs(5), || w.session("codex").is_some());

    let sessions = w.ps()["sessions"].as_array().unwrap().clone();
    let listed: Vec<&Value> = sessions.iter().filter(|s| s["id"] == id).collect();
    assert_eq!(listed.len(), 1, "{sessions:#?}");
    assert_eq!(listed[0]["pid"], agent.pid());
    for (what, pid) in [
        ("codex-helper", helper.pid()),
        ("grep codex", grep.pid()),
        ("a hook's shell", hook.pid()),
        ("docker exec", docker.pid()),
        ("coord run", coord.pid()),
    ] {
        assert!(
            sessions.iter().all(|s| s["pid"] != pid),
            "{what} is listed: {sessions:#?}"
        );
    }
    // The only sessions are the agent and what coord run registered.
    let ids: Vec<&str> = sessions.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![id, "codex"]);
}

#[test]
fn a_codex_listed_before_its_first_rollout_continues_under_the_rollouts_id() {
    let w = World::new();
    let id = "019b0c6e-5d2a-7f31-9c44-2e8a1b7d3f64";
    let log = rollout(&w, id, &[TURN_STARTED]);
    let trigger = w.dir.path().join("prompt-given");
    // A Codex TUI waits for its first prompt, then opens its rollout.
    let script = format!(
        "while [ ! -e {t} ]; do sleep 0.02; done; exec 3>>{log}; sleep 600 & wait",
        t = trigger.display(),
        log = log.display()
    );
    let tui = Proc::spawn(
        Command::new("bash")
            .arg0("codex")
            .args(["-c", &script])
            .env("HOME", w.dir.path()),
    );
    let before = sessions_of(&w, tui.pid());
    assert_eq!(before.len(), 1, "{before:#?}");
    let host = before[0]["host"].as_str().unwrap().to_owned();
    let default_id = format!("{host}-{}", tui.pid());
    assert_eq!(before[0]["id"], default_id);
    assert_eq!(before[0]["runtime"], "codex");

    fs::write(&trigger, "").unwrap();
    until(Duration::from_secs(5), || {
        fs::read_link(format!("/proc/{}/fd/3", tui.pid())).is_ok_and(|p| p == log)
    });
    let after = sessions_of(&w, tui.pid());
    let live: Vec<&Value> = after.iter().filter(|s| s["state"] != "ended").collect();
    assert_eq!(live.len(), 1, "{after:#?}");
    assert_eq!(live[0]["id"], id);
    assert_eq!(w.state(&default_id), "ended");
}
