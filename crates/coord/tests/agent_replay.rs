//! Recorded sessions of the real agents (`fixtures/` at the root), replayed against the real binary.
//!
//! Each recording is a time line of hook payloads, `notify` calls and what the person did. A
//! stand-in for the agent (a shell named `claude` or `codex`) runs every hook as its own child,
//! through a shell, as the real agents do; `kill -9` and a closed pane are applied to it. After
//! chosen steps the test reads `coord ps --json` and checks the states.

mod common;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{COORD, World, feed};
use serde_json::Value;

/// The recordings, next to the project.
fn fixture(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    root.join(name)
}

/// A running stand-in for the agent: a shell named like the agent that runs hooks on request.
struct StandIn {
    child: Child,
    commands: File,
    dir: PathBuf,
    next: usize,
}

impl StandIn {
    fn start(dir: &Path, agent: &str) -> Self {
        let dir = dir.join(format!("stand-in-{}", rand_suffix()));
        fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("commands");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        std::os::unix::fs::symlink("/bin/sh", dir.join(agent)).unwrap();
        let script = r#"while read -r n; do sh "$D/$n.sh" </dev/null; : > "$D/$n.done"; done < "$D/commands""#;
        let child = Command::new(dir.join(agent))
            .args(["-c", script])
            .env("D", &dir)
            .spawn()
            .unwrap();
        let commands = File::options().write(true).open(&fifo).unwrap();
        Self {
            child,
            commands,
            dir,
            next: 0,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `script` as a child of the stand-in (through `sh`) and waits for it.
    fn run(&mut self, script: &str) {
        let n = self.next;
        self.next += 1;
        fs::write(self.dir.join(format!("{n}.sh")), script).unwrap();
        writeln!(self.commands, "{n}").unwrap();
        let done = self.dir.join(format!("{n}.done"));
        let start = Instant::now();
        while !done.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "hook {n} never finished"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn signal(&mut self, signal: &str) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap();
    }

    fn finish(mut self) {
        drop(self.commands);
        self.child.wait().unwrap();
    }
}

/// Field 22 of `/proc/<pid>/stat`: the process's start time.
fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A check: after the `n`th step named `label` (an event, `notify`, or the first word of an
/// action: `("PreToolUse", 1)` is right after the first `PreToolUse`), each session named (`"$"`
/// is the recording's session, `"$/<agent id>"` a subagent, `"count"` the number of sessions)
/// has the state given, and the reason after it if one is given (`"blocked: waiting for"`: the
/// reason starts so); `"explain"` names text that `coord explain` of the session shows.
type Check<'a> = ((&'a str, usize), &'a [(&'a str, &'a str)]);

/// A replay in progress: the private store, one stand-in per recorded agent process.
struct Replay {
    w: World,
    agent: &'static str,
    stand_ins: HashMap<String, StandIn>,
    current: Option<String>,
    session_id: String,
    /// Whether the recorded hooks run (false: coord sees only the status files, as with no
    /// hooks installed).
    hooks: bool,
}

impl Replay {
    /// Runs one recorded hook under the stand-in of its agent process.
    fn hook(&mut self, i: usize, line: &Value) -> String {
        let event = line["event"].as_str().unwrap().to_owned();
        if !self.hooks {
            return event;
        }
        let payload = &line["payload"];
        if self.session_id.is_empty()
            && let Some(sid) = payload["session_id"].as_str()
        {
            sid.clone_into(&mut self.session_id);
        }
        let recorded_pid = line["env"]["CLAUDE_PID"]
            .as_str()
            .unwrap_or("agent")
            .to_owned();
        let (dir, agent) = (self.w.dir.path().to_owned(), self.agent);
        let stand_in = self
            .stand_ins
            .entry(recorded_pid.clone())
            .or_insert_with(|| StandIn::start(&dir, agent));
        self.current = Some(recorded_pid);
        let payload_file = dir.join(format!("payload-{i}.json"));
        fs::write(&payload_file, payload.to_string()).unwrap();
        let env = if line["env"]["CLAUDE_PID"].is_string() {
            format!("CLAUDE_PID={} ", stand_in.pid())
        } else {
            String::new()
        };
        let event = line["event"].as_str().unwrap();
        stand_in.run(&format!(
            "{env}COORD_URL='{}' '{COORD}' hook {event} < '{}'",
            self.w.url(),
            payload_file.display()
        ));
        event.to_owned()
    }

    /// Writes (or removes) Claude Code's status file as recorded, for the stand-in of the
    /// recorded process: its pid, its start time and this boot in place of the recording's.
    fn status(&mut self, line: &Value) -> String {
        let recorded_pid = line["file"]
            .as_str()
            .map(|f| f.trim_end_matches(".json").to_owned())
            .or_else(|| self.current.clone())
            .unwrap();
        let (dir, agent) = (self.w.dir.path().to_owned(), self.agent);
        let stand_in = self
            .stand_ins
            .entry(recorded_pid.clone())
            .or_insert_with(|| StandIn::start(&dir, agent));
        self.current = Some(recorded_pid);
        let sessions = dir.join(".claude/sessions");
        fs::create_dir_all(&sessions).unwrap();
        let path = sessions.join(format!("{}.json", stand_in.pid()));
        match line["content"].as_object() {
            None => {
                let _ = fs::remove_file(&path);
            }
            Some(content) => {
                if self.session_id.is_empty()
                    && let Some(sid) = content.get("sessionId").and_then(Value::as_str)
                {
                    sid.clone_into(&mut self.session_id);
                }
                let mut content = content.clone();
                let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
                content.insert("pid".into(), stand_in.pid().into());
                content.insert(
                    "procStart".into(),
                    start_time(stand_in.pid()).to_string().into(),
                );
                // The status changes now, in this replay, not when it was recorded.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as u64;
                for key in ["statusUpdatedAt", "updatedAt"] {
                    if content.contains_key(key) {
                        content.insert(key.into(), now.into());
                    }
                }
                content.insert(
                    "pidDomain".into(),
                    format!("linux:{}:pid:[0]", boot.trim().replace('-', "")).into(),
                );
                fs::write(&path, Value::Object(content).to_string()).unwrap();
            }
        }
        "status".to_owned()
    }

    /// Runs a recorded Codex `notify` call.
    fn notify(&self, line: &Value) -> String {
        let out = self
            .w
            .cmd()
            .args(["hook", "codex-notify", &line["payload"].to_string()])
            .output()
            .unwrap();
        assert!(out.status.success() && out.stdout.is_empty());
        "notify".to_owned()
    }

    /// Applies what the person did to the agent's process: kills and closed panes.
    fn action(&mut self, line: &Value) -> String {
        let action = line["action"].as_str().unwrap_or_default().to_owned();
        let signal = if action.starts_with("kill -9") || action.starts_with("kill -KILL") {
            Some("KILL")
        } else if action.contains("kill-pane") {
            Some("HUP")
        } else if action.starts_with("kill -TERM") {
            Some("TERM")
        } else {
            None
        };
        if let (Some(signal), Some(pid)) = (signal, self.current.as_ref())
            && let Some(mut s) = self.stand_ins.remove(pid)
        {
            s.signal(signal);
        }
        action
            .split_whitespace()
            .next()
            .unwrap_or("action")
            .to_owned()
    }

    /// The agent process exited on its own.
    fn exit(&mut self) -> String {
        if let Some(s) = self
            .current
            .as_ref()
            .and_then(|pid| self.stand_ins.remove(pid))
        {
            s.finish();
        }
        "exit".to_owned()
    }
}

/// Replays a recording and runs the checks at their steps.
fn replay(case: &str, checks: &[Check<'_>]) {
    replay_with(case, true, checks);
}

/// Replays a recording with or without its hooks.
fn replay_with(case: &str, hooks: bool, checks: &[Check<'_>]) {
    let lines: Vec<Value> = fs::read_to_string(fixture(&format!("{case}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut r = Replay {
        w: World::new(),
        agent: if case.starts_with("codex") {
            "codex"
        } else {
            "claude"
        },
        stand_ins: HashMap::new(),
        current: None,
        session_id: String::new(),
        hooks,
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let label = match line["kind"].as_str().unwrap() {
            "hook" => r.hook(i, line),
            "status" => r.status(line),
            "notify" => r.notify(line),
            "action" => r.action(line),
            "exit" => r.exit(),
            _ => continue,
        };
        let n = seen.entry(label.clone()).or_default();
        *n += 1;
        for ((at, occurrence), expected) in checks {
            if *at == label && *occurrence == *n {
                check(&r.w, case, &label, *n, &r.session_id, expected);
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        checks.len(),
        "{case}: some checks named steps that never came"
    );
    for (_, s) in r.stand_ins {
        s.finish();
    }
}

fn check(w: &World, case: &str, label: &str, n: usize, sid: &str, expected: &[(&str, &str)]) {
    let ps = w.ps();
    let sessions = ps["sessions"].as_array().unwrap();
    for (who, want) in expected {
        if *who == "count" {
            assert_eq!(
                sessions.len().to_string(),
                *want,
                "{case} after {label} #{n}: {ps:#}"
            );
            continue;
        }
        if *who == "explain" {
            let text = w.ok(&["explain", sid]);
            assert!(text.contains(want), "{case} after {label} #{n}:\n{text}");
            continue;
        }
        let id = who.replacen('$', sid, 1);
        let session = sessions.iter().find(|s| s["id"] == id);
        let got = session.map_or("(absent)", |s| s["state"].as_str().unwrap());
        let (state, reason) = want.split_once(": ").unwrap_or((want, ""));
        assert_eq!(got, state, "{case} after {label} #{n}: {id}\n{ps:#}");
        let why = session.map_or("", |s| s["reason"].as_str().unwrap());
        assert!(
            why.starts_with(reason),
            "{case} after {label} #{n}: {id}: {why}"
        );
    }
}

#[test]
fn claude_print_tool_goes_idle_in_tool_active_idle_ended() {
    replay(
        "claude-code/print-tool",
        &[
            (("SessionStart", 1), &[("$", "idle")]),
            (("UserPromptSubmit", 1), &[("$", "active")]),
            (("PreToolUse", 1), &[("$", "in-tool")]),
            (("PostToolUse", 1), &[("$", "active")]),
            (("Stop", 1), &[("$", "idle")]),
            (("SessionEnd", 1), &[("$", "ended")]),
        ],
    );
}

#[test]
fn claude_permission_prompt_is_blocked_until_answered() {
    replay(
        "claude-code/tui-permission",
        &[
            (("PreToolUse", 1), &[("$", "in-tool")]),
            (
                ("PermissionRequest", 1),
                &[("$", "blocked: waiting for permission for Bash")],
            ),
            (
                ("Notification", 1),
                &[("$", "blocked: waiting for permission for Bash")],
            ),
            (("PostToolUse", 1), &[("$", "active")]),
            (("Stop", 1), &[("$", "idle")]),
            (("SessionEnd", 1), &[("$", "ended")]),
        ],
    );
}

/// Replays a recording where Claude Code waits for the person from its `call`th `PreToolUse`
/// to the `PostToolUse` of the same call, for what `on` says: blocked with those words all the
/// while, through the permission dialog it is shown in, the status file's `waiting` and the
/// notification 6 s into the wait (74 s before the answer), in `coord explain` too; then
/// active, idle at the turn's end and ended. `before`: checks of the steps before it.
fn blocked_until_answered(case: &str, call: usize, on: &str, before: &[Check<'_>]) {
    let blocked = format!("blocked: waiting for {on}");
    let blocked = blocked.as_str();
    let explained = [format!("is {blocked}"), format!("phase    blocked on {on}")];
    let waiting = [("$", blocked)];
    let notified = [
        ("$", blocked),
        ("explain", explained[0].as_str()),
        ("explain", explained[1].as_str()),
    ];
    let checks: Vec<Check<'_>> = [
        (("PreToolUse", call), &waiting[..]),
        (("PermissionRequest", 1), &waiting),
        (("status", 4), &waiting),
        (("Notification", 1), &notified),
        (("PostToolUse", call), &[("$", "active")]),
        (("Stop", 1), &[("$", "idle")]),
        (("SessionEnd", 1), &[("$", "ended")]),
    ]
    .into_iter()
    .chain(before.iter().copied())
    .collect();
    replay(case, &checks);
}

#[test]
fn claude_asking_a_question_is_blocked_until_answered() {
    blocked_until_answered("claude-code/tui-ask", 1, "your answer to its question", &[]);
}

#[test]
fn claude_presenting_a_plan_is_blocked_until_approved() {
    // The deferred tool is loaded first: a tool like any other.
    blocked_until_answered(
        "claude-code/tui-plan",
        2,
        "your approval of its plan",
        &[(("PreToolUse", 1), &[("$", "in-tool")])],
    );
}

#[test]
fn claude_question_dismissed_or_plan_rejected_ends_the_wait_through_the_status_file() {
    // Escape at the question, "No" to the plan: no hook at all; the status file turns idle.
    replay(
        "claude-code/tui-ask-esc",
        &[
            (
                ("Notification", 1),
                &[("$", "blocked: waiting for your answer")],
            ),
            (("status", 5), &[("$", "idle")]),
        ],
    );
    replay(
        "claude-code/tui-plan-no",
        &[
            (
                ("Notification", 1),
                &[("$", "blocked: waiting for your approval")],
            ),
            (("status", 5), &[("$", "idle")]),
        ],
    );
}

#[test]
fn claude_entering_plan_mode_asks_nothing() {
    replay(
        "claude-code/tui-enter-plan",
        &[
            (("PreToolUse", 1), &[("$", "in-tool")]),
            (("PostToolUse", 1), &[("$", "active")]),
        ],
    );
}

#[test]
fn claude_subagents_are_children_that_never_overwrite_or_end_their_parent() {
    replay(
        "claude-code/print-subagent",
        &[
            (("SubagentStart", 1), &[("$", "in-tool"), ("count", "2")]),
            (
                ("PreToolUse", 2),
                &[("$", "in-tool"), ("$/ada004c02437b6d74", "in-tool")],
            ),
            (
                ("SubagentStop", 1),
                &[("$", "in-tool"), ("$/ada004c02437b6d74", "ended")],
            ),
            (("PostToolUse", 2), &[("$", "active")]),
            (("SessionEnd", 1), &[("$", "ended")]),
        ],
    );
}

#[test]
fn claude_stop_while_a_background_subagent_runs_is_background_not_idle() {
    replay(
        "claude-code/print-subagent-bg",
        &[
            (("Stop", 1), &[("$", "background")]),
            (("SubagentStop", 1), &[("count", "2")]),
            (("Stop", 2), &[("$", "idle")]),
        ],
    );
}

#[test]
fn claude_compact_subagent_stops_without_start_create_nothing() {
    replay(
        "claude-code/print-compact",
        &[
            (("SubagentStop", 2), &[("count", "1"), ("$", "idle")]),
            (("SessionStart", 3), &[("count", "1")]),
            (("SessionEnd", 2), &[("$", "ended")]),
        ],
    );
}

#[test]
fn claude_resume_in_a_new_process_continues_the_same_session() {
    replay(
        "claude-code/print-resume",
        &[
            (("SessionEnd", 1), &[("$", "ended")]),
            (("SessionStart", 2), &[("$", "idle"), ("count", "1")]),
            (("PreToolUse", 2), &[("$", "in-tool")]),
        ],
    );
}

#[test]
fn claude_killed_with_sigkill_mid_tool_is_dead() {
    replay(
        "claude-code/tui-kill9-busy",
        &[
            (("PreToolUse", 1), &[("$", "in-tool")]),
            (("kill", 1), &[("$", "dead")]),
        ],
    );
}

#[test]
fn claude_idle_prompt_ends_the_turn_and_an_api_error_limits_the_session() {
    replay(
        "claude-code/tui-idle",
        &[(("Notification", 1), &[("$", "idle")])],
    );
    replay(
        "claude-code/tui-apierror",
        &[(("StopFailure", 1), &[("$", "limited")])],
    );
}

#[test]
fn codex_exec_tool_turn_and_its_notify() {
    replay(
        "codex/exec-tool",
        &[
            (("SessionStart", 1), &[("$", "idle")]),
            (("PreToolUse", 1), &[("$", "in-tool")]),
            (("PostToolUse", 1), &[("$", "active")]),
            (("Stop", 1), &[("$", "idle")]),
            (("notify", 1), &[("$", "idle"), ("count", "1")]),
            (("SessionEnd", 1), &[("$", "ended")]),
        ],
    );
}

#[test]
fn codex_interrupt_ends_the_turn() {
    replay(
        "codex/tui-esc-busy",
        &[
            (("PreToolUse", 1), &[("$", "in-tool")]),
            (("Interrupt", 1), &[("$", "idle")]),
        ],
    );
}

#[test]
fn codex_notify_of_a_thread_no_hook_named_records_nothing() {
    replay(
        "codex/tui-exit",
        &[
            (("notify", 1), &[("count", "1")]),
            (("notify", 2), &[("count", "1"), ("$", "idle")]),
        ],
    );
    replay(
        "codex/exec-notify-only",
        &[(("notify", 1), &[("count", "0")])],
    );
}

#[test]
fn codex_exec_killed_mid_tool_is_dead() {
    replay(
        "codex/exec-sigkill-busy",
        &[
            (("PreToolUse", 1), &[("$", "in-tool")]),
            (("kill", 1), &[("$", "dead")]),
        ],
    );
}

#[test]
fn codex_permission_request_is_blocked() {
    replay(
        "codex/tui-permission",
        &[
            (("PermissionRequest", 1), &[("$", "blocked")]),
            (("PostToolUse", 1), &[("$", "active")]),
        ],
    );
}

#[test]
fn the_chained_notify_program_still_runs() {
    let w = World::new();
    let out_file = w.dir.path().join("theirs.txt");
    let script = w.dir.path().join("their-notify");
    fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1 $2\" > '{}'\n", out_file.display()),
    )
    .unwrap();
    Command::new("chmod")
        .args(["+x", &script.display().to_string()])
        .status()
        .unwrap();
    let out = w
        .cmd()
        .args([
            "hook",
            "codex-notify",
            &script.display().to_string(),
            "--their-flag",
            r#"{"type":"agent-turn-complete","thread-id":"t"}"#,
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty());
    let start = Instant::now();
    while !out_file.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = fs::read_to_string(&out_file).unwrap();
    assert_eq!(
        text.trim(),
        r#"--their-flag {"type":"agent-turn-complete","thread-id":"t"}"#
    );
}

#[test]
fn claude_escape_during_a_tool_ends_the_turn_through_the_status_file() {
    replay(
        "claude-code/tui-esc-busy",
        &[
            (("PreToolUse", 1), &[("$", "in-tool")]),
            (("status", 4), &[("$", "idle")]),
        ],
    );
}

#[test]
fn claude_sessions_show_up_with_no_hook_installed() {
    replay_with(
        "claude-code/tui-permission",
        false,
        &[
            (("status", 2), &[("count", "1"), ("$", "idle")]),
            (("status", 3), &[("$", "active")]),
            (("status", 4), &[("$", "blocked")]),
            (("status", 6), &[("$", "idle")]),
        ],
    );
}

#[test]
fn a_status_file_left_behind_by_a_killed_claude_is_not_believed() {
    replay(
        "claude-code/tui-kill9-busy",
        &[(("kill", 1), &[("$", "dead"), ("count", "1")])],
    );
}

#[test]
fn an_api_error_at_the_end_of_the_transcript_limits_a_session_no_hook_told() {
    // Under `-p` an API error fires neither Stop nor StopFailure: the transcript is all there is.
    let w = World::new();
    let transcript = w.dir.path().join("transcript.jsonl");
    let recorded =
        fs::read_to_string(fixture("claude-code/print-apierror.transcript.jsonl")).unwrap();
    let lines: Vec<&str> = recorded.lines().collect();
    let error = lines
        .iter()
        .position(|l| {
            l.contains("\"isApiErrorMessage\": true") || l.contains("\"isApiErrorMessage\":true")
        })
        .expect("the recording holds the API error");
    fs::write(&transcript, lines[..error].join("\n") + "\n").unwrap();
    let log = transcript.display().to_string();
    let _agent = w.registered("s-print", &["--runtime", "claude", "--log", &log]);
    w.ok(&["heartbeat", "--id", "s-print"]);
    assert_eq!(w.state("s-print"), "active");

    // The error, then the bookkeeping entries Claude Code writes after it, written now.
    std::thread::sleep(Duration::from_millis(20));
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let mut written: Vec<Value> = lines[error..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for entry in &mut written {
        if entry.get("timestamp").is_some() {
            entry["timestamp"] = now.clone().into();
        }
    }
    let mut text = lines[..error].join("\n") + "\n";
    for entry in written {
        text.push_str(&entry.to_string());
        text.push('\n');
    }
    fs::write(&transcript, text).unwrap();
    let s = w.session("s-print").unwrap();
    assert_eq!(s["state"], "limited", "{s:#}");
    assert!(
        s["reason"].as_str().unwrap().contains("API error 500"),
        "{s:#}"
    );
    // Read once: a later look changes nothing.
    assert_eq!(w.state("s-print"), "limited");
}

#[test]
fn a_long_turn_with_no_hook_and_no_write_is_working_not_dead() {
    // Claude Code thinking for long: no hook fires, the transcript does not grow and the status
    // file does not change (its times move only with its status). The process is the proof.
    let w = World::new();
    let transcript = w.dir.path().join("t.jsonl");
    fs::write(&transcript, "{}\n").unwrap();
    let log = transcript.display().to_string();
    let short = [
        "--ttl",
        "1s",
        "--active-window",
        "200ms",
        "--stale-after",
        "1h",
    ];
    let agent = w.registered(
        "s-long",
        &[&["--runtime", "claude", "--log", &log][..], &short].concat(),
    );
    claude_hook(
        &w,
        &agent.pid(),
        "UserPromptSubmit",
        &claude_event("s-long", "UserPromptSubmit", &[("prompt", "think hard")]),
    );
    // Past its TTL, with its host heard all along from another session.
    let _other = w.registered("s-other", &["--ttl", "1s"]);
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        w.ok(&["heartbeat", "--id", "s-other"]);
        std::thread::sleep(Duration::from_millis(200));
    }
    let s = w.session("s-long").unwrap();
    assert_eq!(s["state"], "active", "{s:#}");
    assert!(
        s["reason"].as_str().unwrap().starts_with("working"),
        "{s:#}"
    );
    let swept = w.ok(&["sweep", "--grace", "0s"]);
    assert!(!swept.contains("s-long"), "{swept}");
    assert_eq!(w.state("s-long"), "active");
}

/// Runs `coord hook EVENT` as a hook of the Claude Code process `pid` with `payload`.
fn claude_hook(w: &World, pid: &str, event: &str, payload: &Value) {
    let out = feed(
        w.cmd().env("CLAUDE_PID", pid).args(["hook", event]),
        payload.to_string().as_bytes(),
    );
    assert!(out.status.success());
}

fn claude_event(id: &str, event: &str, extra: &[(&str, &str)]) -> Value {
    let mut v = serde_json::json!({
        "session_id": id,
        "hook_event_name": event,
        "cwd": "/work/project",
        "transcript_path": format!("/nonexistent/{id}.jsonl"),
    });
    for (k, val) in extra {
        v[*k] = (*val).into();
    }
    v
}

#[test]
fn clear_ends_the_old_session_and_starts_a_new_one_in_the_same_process() {
    let w = World::new();
    let mut agent = common::Sleeper::start();
    let pid = agent.pid();
    claude_hook(
        &w,
        &pid,
        "SessionStart",
        &claude_event("before-clear", "SessionStart", &[("source", "startup")]),
    );
    claude_hook(
        &w,
        &pid,
        "UserPromptSubmit",
        &claude_event("before-clear", "UserPromptSubmit", &[]),
    );
    assert_eq!(w.state("before-clear"), "active");
    // `/clear`: SessionEnd(clear) for the old id, SessionStart(clear) for a new one.
    claude_hook(
        &w,
        &pid,
        "SessionEnd",
        &claude_event("before-clear", "SessionEnd", &[("reason", "clear")]),
    );
    claude_hook(
        &w,
        &pid,
        "SessionStart",
        &claude_event("after-clear", "SessionStart", &[("source", "clear")]),
    );
    assert_eq!(w.state("before-clear"), "ended");
    assert_eq!(w.state("after-clear"), "idle");
    let new = w.session("after-clear").unwrap();
    assert_eq!(new["pid"].as_u64().unwrap().to_string(), pid, "{new:#}");
    agent.kill();
    assert_eq!(w.state("after-clear"), "dead");
    assert_eq!(w.state("before-clear"), "ended");
}

#[test]
fn two_processes_on_one_session_id_the_newer_holds_it_and_the_olders_death_kills_nothing() {
    let w = World::new();
    let mut first = common::Sleeper::start();
    let mut second = common::Sleeper::start();
    let id = "shared-id";
    claude_hook(
        &w,
        &first.pid(),
        "SessionStart",
        &claude_event(id, "SessionStart", &[("source", "startup")]),
    );
    // The same session resumed in a second terminal while the first still runs.
    claude_hook(
        &w,
        &second.pid(),
        "SessionStart",
        &claude_event(id, "SessionStart", &[("source", "resume")]),
    );
    let s = w.session(id).unwrap();
    assert_eq!(
        s["pid"].as_u64().unwrap().to_string(),
        second.pid(),
        "{s:#}"
    );
    assert_eq!(s["incarnation"], 2, "{s:#}");
    // A late event of the first process keeps the session alive, never takes it back.
    claude_hook(
        &w,
        &first.pid(),
        "UserPromptSubmit",
        &claude_event(id, "UserPromptSubmit", &[]),
    );
    assert_eq!(w.state(id), "active");
    first.kill();
    assert_eq!(
        w.state(id),
        "active",
        "the older process's death is not the session's"
    );
    second.kill();
    assert_eq!(w.state(id), "dead");
}
