//! `coord watch --all`, the per-host watcher, with real processes: an agent that was running
//! before coord was set up and never registered is listed from its status file as soon as the
//! file appears, and its death by SIGKILL is in the store within 100 ms; a session registered
//! by someone else is held too; the watcher stops cleanly on SIGTERM. Claude Code's HTTP hooks
//! (`coord hooks install --via http`) reach the watcher with no process per event. And `coord
//! service` writes and removes the user unit that runs it.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Stdio};
use std::time::{Duration, Instant};

use common::{Sleeper, World, exit_logged_at, now_ms};
use serde_json::{Value, json};

/// `coord watch --all` on a world, receiving hooks on a port of its own, killed when dropped.
struct Watcher {
    child: Child,
    /// Where it receives HTTP hooks.
    hook_addr: SocketAddr,
    /// Its stderr, kept open so that it can still write there.
    _stderr: BufReader<ChildStderr>,
}

impl Watcher {
    fn start(world: &World) -> Self {
        let mut child = world
            .cmd()
            .args(["watch", "--all", "--interval", "30s"])
            .args(["--hook-listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut hook_addr = None;
        for _ in 0..2 {
            let mut line = String::new();
            stderr.read_line(&mut line).unwrap();
            if let Some(addr) = line
                .trim()
                .strip_prefix("coord: receiving HTTP hooks on http://")
            {
                hook_addr = Some(addr.parse().unwrap());
            }
        }
        Self {
            child,
            hook_addr: hook_addr.expect("the watcher says where it receives hooks"),
            _stderr: stderr,
        }
    }

    /// Stops it with SIGTERM; whether it exited by itself, successfully, in time.
    fn stop(&mut self) -> bool {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// Writes Claude Code's status file for the process `pid` as session `id`, as Claude Code does
/// (to a temporary name, then renamed into place).
fn write_status(home: &Path, pid: u32, id: &str, status: &str) {
    let dir = home.join(".claude/sessions");
    fs::create_dir_all(&dir).unwrap();
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let doc = json!({
        "pid": pid,
        "sessionId": id,
        "cwd": "/work/project",
        "procStart": start_time(pid).to_string(),
        "pidDomain": format!("linux:{}:pid:[0]", boot.trim().replace('-', "")),
        "status": status,
        "statusUpdatedAt": now_ms(),
        "updatedAt": now_ms(),
    });
    let temp = dir.join(format!(".{pid}.json.tmp"));
    fs::write(&temp, doc.to_string()).unwrap();
    fs::rename(&temp, dir.join(format!("{pid}.json"))).unwrap();
}

/// Waits up to `limit` for `cond`; how long it took.
fn within(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn an_agent_started_before_coord_is_found_and_its_death_recorded_within_100_ms() {
    let world = World::new();
    // The agent runs before anything of coord does, and never registers.
    let mut agent = Sleeper::start();
    let pid: u32 = agent.pid().parse().unwrap();
    let doctor = String::from_utf8(world.run(&["doctor"]).stdout).unwrap();
    assert!(doctor.contains("no per-host watcher"), "{doctor}");
    let mut watcher = Watcher::start(&world);
    // Give the watcher its first look (nothing to find yet).
    std::thread::sleep(Duration::from_millis(300));
    let doctor = String::from_utf8(world.run(&["doctor"]).stdout).unwrap();
    assert!(
        doctor.contains("the per-host watcher runs (pid"),
        "{doctor}"
    );

    write_status(world.dir.path(), pid, "s-before", "busy");
    let found = within(Duration::from_secs(3), || {
        world.session("s-before").is_some()
    });
    assert!(found.is_some(), "the status file was not picked up");
    assert_eq!(world.state("s-before"), "active");

    // The status turns to idle: the watcher hears the file change, not a timer.
    write_status(world.dir.path(), pid, "s-before", "idle");
    assert!(
        within(Duration::from_secs(3), || world.state("s-before") == "idle").is_some(),
        "the status change was not picked up"
    );

    // Wait until the watcher holds the process: its proof of life says so.
    assert!(
        within(Duration::from_secs(3), || {
            world.session("s-before").is_some_and(|s| {
                s["signals"]
                    .as_object()
                    .is_some_and(|sig| sig.contains_key("watch"))
                    || s["process"]["state"] == "alive"
            })
        })
        .is_some()
    );
    let killed_at = now_ms();
    agent.kill();
    let logged = within(Duration::from_secs(3), || {
        exit_logged_at(&world, "s-before").is_some()
    });
    assert!(logged.is_some(), "the death was not recorded");
    let latency = exit_logged_at(&world, "s-before").unwrap() - killed_at;
    assert!(latency <= 100, "death recorded {latency} ms after SIGKILL");
    assert_eq!(world.state("s-before"), "dead");
    assert!(
        watcher.stop(),
        "the watcher did not stop cleanly on SIGTERM"
    );
}

#[test]
fn a_session_registered_by_someone_else_is_held_too() {
    let world = World::new();
    let mut watcher = Watcher::start(&world);
    std::thread::sleep(Duration::from_millis(200));
    let mut agent = world.registered("w-reg", &[]);
    // No status file announces it: the watcher's next round (30 s here) would find it; any
    // change in a status directory wakes it at once.
    let dir = world.dir.path().join(".claude/sessions");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("notes.txt"), "not a status file").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = now_ms();
    agent.kill();
    assert!(
        within(Duration::from_secs(3), || exit_logged_at(&world, "w-reg")
            .is_some())
        .is_some()
    );
    let latency = exit_logged_at(&world, "w-reg").unwrap() - killed_at;
    assert!(latency <= 100, "death recorded {latency} ms after SIGKILL");
    assert!(watcher.stop());
}

/// Posts `event` as Claude Code posts an HTTP hook: to the handler's URL, with its headers.
fn post_as_claude_code(handler: &Value, event: &Value) -> Result<u16, ureq::Error> {
    let mut request =
        ureq::post(handler["url"].as_str().unwrap()).header("Content-Type", "application/json");
    for (name, value) in handler["headers"].as_object().unwrap() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    request.send(event.to_string()).map(|r| r.status().as_u16())
}

#[test]
fn http_hooks_reach_the_watcher_with_no_process_per_event() {
    let world = World::new();
    let install = |addr: SocketAddr| {
        world
            .cmd()
            .args(["hooks", "install", "--runtime", "claude", "--via", "http"])
            .args(["--hook-addr", &addr.to_string()])
            .output()
            .unwrap()
    };
    let settings = world.dir.path().join(".claude/settings.json");

    // No watcher receives hooks: refused, and nothing written.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = install(nobody);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no coord watcher receives hooks"), "{err}");
    assert!(!settings.exists());

    let mut watcher = Watcher::start(&world);
    let out = install(watcher.hook_addr);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&fs::read(&settings).unwrap()).unwrap();
    let handler = &doc["hooks"]["PreToolUse"][0]["hooks"][0];
    assert_eq!(handler["type"], "http", "{handler}");
    assert_eq!(
        handler["url"],
        format!("http://{}/coord/hook/PreToolUse", watcher.hook_addr)
    );

    // A stand-in for Claude Code and its status file: the event names the session only, the
    // watcher finds the process.
    let agent = Sleeper::start();
    let pid: u32 = agent.pid().parse().unwrap();
    write_status(world.dir.path(), pid, "s-http", "busy");
    let event = json!({
        "session_id": "s-http", "cwd": "/work/project", "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_use_id": "t1",
        "transcript_path": "/home/dev/.claude/projects/p/s-http.jsonl",
    });
    assert_eq!(post_as_claude_code(handler, &event).unwrap(), 200);
    assert!(
        within(Duration::from_secs(3), || {
            world
                .session("s-http")
                .is_some_and(|s| s["state"] == "in-tool" && s["tool"] == "Bash")
        })
        .is_some(),
        "{:?}",
        world.session("s-http")
    );
    let session = world.session("s-http").unwrap();
    assert_eq!(session["pid"], pid, "{session}");
    assert_eq!(session["runtime"], "claude", "{session}");

    // Without the token: refused, and nothing recorded.
    let forged = json!({"url": handler["url"], "headers": {}});
    let refused = post_as_claude_code(&forged, &json!({"session_id": "s-forged"}));
    assert!(
        matches!(refused, Err(ureq::Error::StatusCode(401))),
        "{refused:?}"
    );
    // Garbage from the agent is taken silently, as by a command hook.
    let garbage = json!("not an event");
    assert_eq!(post_as_claude_code(handler, &garbage).unwrap(), 200);
    std::thread::sleep(Duration::from_millis(200));
    assert!(world.session("s-forged").is_none());

    let doctor = String::from_utf8(world.run(&["doctor"]).stdout).unwrap();
    assert!(
        doctor.contains("the watcher receives HTTP hooks"),
        "{doctor}"
    );
    assert!(watcher.stop());
    // With the watcher gone, the hooks' events would be lost: doctor says so.
    let doctor = world.run(&["doctor"]);
    let text = String::from_utf8(doctor.stdout).unwrap();
    assert!(text.contains("no watcher takes them"), "{text}");
    assert_eq!(doctor.status.code(), Some(1));
}

#[test]
fn the_service_unit_runs_the_watcher_with_the_shells_store() {
    let world = World::new();
    let unit = world
        .dir
        .path()
        .join(".config/systemd/user/coord-watch.service");
    let out = world.ok(&["service", "install", "--no-start"]);
    assert!(out.contains("installed"), "{out}");
    let text = fs::read_to_string(&unit).unwrap();
    assert!(text.contains(" watch --all"), "{text}");
    assert!(
        text.contains(&format!("COORD_URL={}", world.url())),
        "{text}"
    );
    assert!(text.contains("Restart=always"), "{text}");
    let out = world.ok(&["service", "install", "--no-start"]);
    assert!(out.contains("already installed"), "{out}");
    let out = world.ok(&["service", "uninstall", "--no-start"]);
    assert!(out.contains("removed"), "{out}");
    assert!(!unit.exists());
    let out = world.ok(&["service", "uninstall", "--no-start"]);
    assert!(out.contains("not installed"), "{out}");
}
