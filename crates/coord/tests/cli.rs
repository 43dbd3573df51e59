//! The command line, driven through the real binary against a private embedded store.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{Sleeper, World};

#[test]
fn register_prints_the_id_and_ps_shows_the_session_working() {
    let w = World::new();
    let agent = Sleeper::start();
    let id = w.ok(&[
        "register",
        "--id",
        "agent-1",
        "--pid",
        &agent.pid(),
        "--task",
        "fix the build",
        "--label",
        "team=infra",
    ]);
    assert_eq!(id, "agent-1\n");
    let s = w.session("agent-1").unwrap();
    assert_eq!(s["state"], "active");
    assert_eq!(s["task"], "fix the build");
    assert_eq!(s["labels"]["team"], "infra");
    assert_eq!(s["pid"].as_u64().unwrap().to_string(), agent.pid());
    assert_eq!(s["process"]["state"], "alive");
    assert!(
        s["last_seen"].as_str().unwrap().ends_with('Z'),
        "RFC 3339: {}",
        s["last_seen"]
    );
    assert!(s["last_seen_ms"].as_i64().unwrap() > 1_600_000_000_000);

    let table = w.ok(&["ps"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in [
        "ID",
        "RUNTIME",
        "TASK",
        "HOST:PID",
        "STATE",
        "LAST SEEN",
        "REASON",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("agent-1 ") && row.contains(" active ") && row.contains("fix the build"),
        "{row}"
    );
    assert!(
        !table.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert_eq!(
        header.find("STATE"),
        row.find("active"),
        "columns align:\n{table}"
    );
}

#[test]
fn the_default_id_is_host_and_the_calling_process() {
    let w = World::new();
    let script = format!(
        "{0} register >/dev/null && {0} heartbeat && echo $$",
        common::COORD
    );
    let out = common::succeed(
        std::process::Command::new("sh")
            .args(["-c", &script])
            .env("COORD_URL", w.url()),
    );
    let shell_pid = out.trim().to_owned();
    let ps = w.ps();
    let s = &ps["sessions"][0];
    assert_eq!(
        s["id"],
        format!("{}-{shell_pid}", s["host"].as_str().unwrap())
    );
    assert_eq!(s["runtime"], "shell");
    assert_eq!(s["beats"], 1);
}

#[test]
fn a_killed_process_is_dead_at_the_next_look_and_evicted_by_the_sweep() {
    let w = World::new();
    let mut agent = w.registered("a", &[]);
    assert_eq!(w.state("a"), "active");
    agent.kill();
    let s = w.session("a").unwrap();
    assert_eq!(s["state"], "dead");
    assert_eq!(s["rule"], "process-exited");
    assert!(
        s["reason"].as_str().unwrap().starts_with("process gone"),
        "{}",
        s["reason"]
    );
    let sweep = w.ok(&["sweep", "--grace", "0s"]);
    assert!(sweep.contains("evicted   a: dead: process gone"), "{sweep}");
    assert!(w.session("a").is_none());
    let events = w.ok(&["events"]);
    let kinds: Vec<&str> = events
        .lines()
        .map(|l| l.split_whitespace().nth(3).unwrap())
        .collect();
    assert_eq!(kinds, ["registered", "process", "evicted:"], "{events}");
}

#[test]
fn a_pid_now_held_by_another_process_is_not_mistaken_for_the_old_one() {
    let w = World::new();
    let _agent = w.registered("a", &[]);
    // The recorded start time no longer matches the process holding that PID: the PID was
    // recycled.
    let conn = rusqlite::Connection::open(w.db()).unwrap();
    conn.execute(
        "UPDATE sessions SET record = json_set(record, '$.pid_start', \
         json_extract(record, '$.pid_start') - 1)",
        [],
    )
    .unwrap();
    drop(conn);
    assert_eq!(w.state("a"), "dead");
}

#[test]
fn a_process_that_lives_but_makes_no_progress_is_stale_with_a_reason() {
    let w = World::new();
    let agent = Sleeper::start();
    w.ok(&[
        "register",
        "--id",
        "a",
        "--pid",
        &agent.pid(),
        "--stale-after",
        "1s",
    ]);
    w.ok(&["heartbeat", "--id", "a"]);
    assert_eq!(w.state("a"), "active");
    std::thread::sleep(Duration::from_millis(2100));
    let s = w.session("a").unwrap();
    assert_eq!(s["state"], "stale");
    assert_eq!(s["reason"], "no progress for 2s; process alive");
    w.ok(&["heartbeat", "--id", "a"]);
    assert_eq!(w.state("a"), "active", "progress again: active again");
}

#[test]
fn phases_reported_by_heartbeats_decide_in_tool_and_idle() {
    let w = World::new();
    let _agent = w.registered("a", &[]);
    w.ok(&[
        "heartbeat",
        "--id",
        "a",
        "--phase",
        "in-tool",
        "--tool",
        "Bash",
    ]);
    let s = w.session("a").unwrap();
    assert_eq!(
        (s["state"].as_str(), s["tool"].as_str()),
        (Some("in-tool"), Some("Bash"))
    );
    w.ok(&["heartbeat", "--id", "a", "--phase", "waiting"]);
    let s = w.session("a").unwrap();
    assert_eq!(s["state"], "idle");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("waiting for a prompt")
    );
    let log = w.ok(&["events"]);
    assert!(
        log.contains("phase working -> in-tool") && log.contains("phase in-tool -> waiting"),
        "{log}"
    );
}

#[test]
fn unregister_ends_the_session_which_ps_then_hides_without_all() {
    let w = World::new();
    let _agent = w.registered("a", &[]);
    w.ok(&["unregister", "--id", "a"]);
    assert_eq!(w.state("a"), "ended");
    assert!(!w.ok(&["ps"]).contains("\na "));
    assert!(w.ok(&["ps", "--state", "ended"]).contains("\na "));
    let out = w.run(&["heartbeat", "--id", "a"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an ended session takes no heartbeat"
    );
}

#[test]
fn progress_details_are_kept_and_shown() {
    let w = World::new();
    let _agent = w.registered("a", &[]);
    w.ok(&[
        "heartbeat",
        "--id",
        "a",
        "--progress",
        r#"{"step":3,"of":7}"#,
    ]);
    let show: serde_json::Value = serde_json::from_str(&w.ok(&["show", "a", "--json"])).unwrap();
    assert_eq!(show["session"]["progress"]["step"], 3);
    assert_eq!(show["events"][0]["kind"], "registered");
    assert!(show["now_ms"].is_i64());
    let text = w.ok(&["show", "a"]);
    for want in [
        "state:",
        "rule:",
        "process:",
        "signals:",
        "progress:",
        "policy:",
        "events:",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
}

#[test]
fn operational_errors_exit_1_and_usage_errors_exit_2() {
    let w = World::new();
    let unknown = w.run(&["heartbeat", "--id", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&unknown.stderr);
    assert!(msg.contains("session `nobody` is not registered"), "{msg}");
    assert_eq!(w.run(&["show", "nobody"]).status.code(), Some(1));
    assert_eq!(
        w.run(&["register", "--pid", "4000000"]).status.code(),
        Some(1)
    );
    for bad in [
        &["ps", "--state", "alive"][..],
        &["register", "--label", "novalue"],
        &["heartbeat", "--progress", "{not json"],
        &["register", "--ttl", "soon"],
        &["frobnicate"],
    ] {
        assert_eq!(w.run(bad).status.code(), Some(2), "{bad:?}");
    }
    let bad_url = w
        .cmd()
        .env("COORD_URL", "ftp://x")
        .args(["ps"])
        .output()
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_url.stderr).contains("unsupported scheme `ftp`"));
}

#[test]
fn a_store_that_is_not_a_database_is_reported_and_left_untouched() {
    let w = World::new();
    std::fs::create_dir_all(w.db().parent().unwrap()).unwrap();
    let garbage = b"definitely not sqlite\n".repeat(400);
    std::fs::write(w.db(), &garbage).unwrap();
    let out = w.run(&["ps"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open the store sqlite://"));
    assert_eq!(std::fs::read(w.db()).unwrap(), garbage);
}

#[test]
fn the_default_store_follows_xdg_state_home_and_is_private() {
    let w = World::new();
    let state = w.dir.path().join("xdg-state");
    let agent = Sleeper::start();
    let out = w
        .cmd()
        .env_remove("COORD_URL")
        .env("XDG_STATE_HOME", &state)
        .args(["register", "--id", "a", "--pid", &agent.pid()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let db = state.join("coord/coord.db");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(db.parent().unwrap()), 0o700);
}

#[test]
fn namespaces_separate_fleets_in_one_store() {
    let w = World::new();
    let agent = Sleeper::start();
    let run = |ns: &str, args: &[&str]| {
        let out = w
            .cmd()
            .env("COORD_NAMESPACE", ns)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    run("team-a", &["register", "--id", "a", "--pid", &agent.pid()]);
    assert!(run("team-a", &["ps"]).contains("\na "));
    assert!(!run("team-b", &["ps"]).contains("\na "));
    assert!(!w.ok(&["ps", "--namespace", "team-b"]).contains("\na "));
}

#[test]
fn events_resume_after_a_sequence_number_and_print_json() {
    let w = World::new();
    let agent = Sleeper::start();
    for id in ["a", "b", "c"] {
        w.ok(&["register", "--id", id, "--pid", &agent.pid()]);
    }
    let doc: serde_json::Value = serde_json::from_str(&w.ok(&["events", "--json"])).unwrap();
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    let first = events[0]["seq"].as_u64().unwrap();
    let rest = w.ok(&["events", "--since", &first.to_string()]);
    assert_eq!(rest.lines().count(), 2);
    assert!(
        rest.contains(" b ") && rest.contains(" c ") && !rest.contains(" a "),
        "{rest}"
    );
}

#[test]
fn events_follow_prints_new_events_as_they_come() {
    use std::io::{BufRead, BufReader};
    let w = World::new();
    let _agent = w.registered("a", &[]);
    let mut follow = w
        .cmd()
        .args(["events", "--follow", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["kind"], "registered");
    w.ok(&["unregister", "--id", "a"]);
    let next: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (next["kind"].as_str(), next["session"].as_str()),
        (Some("ended"), Some("a"))
    );
    follow.kill().unwrap();
    follow.wait().unwrap();
}

#[test]
fn explain_shows_the_signals_and_marks_the_rule_that_decided() {
    let w = World::new();
    let _agent = w.registered("a", &[]);
    w.ok(&[
        "heartbeat",
        "--id",
        "a",
        "--phase",
        "in-tool",
        "--tool",
        "Bash",
    ]);
    let text = w.ok(&["explain", "a"]);
    assert!(text.starts_with("a is in-tool: running Bash"), "{text}");
    assert!(text.contains("-> 8. in-tool:"), "{text}");
    assert!(text.contains("host vm") || text.contains("host "), "{text}");
    assert!(text.contains("cli ") && text.contains("process"), "{text}");
    assert_eq!(text.matches("->").count(), 1, "one rule decides");
    assert_eq!(w.run(&["explain", "nobody"]).status.code(), Some(1));
}

#[test]
fn doctor_checks_the_store_and_the_hooks() {
    let w = World::new();
    std::fs::create_dir_all(w.dir.path().join(".claude")).unwrap();
    let before = w.ok(&["doctor"]);
    assert!(before.contains("ok    store sqlite://"), "{before}");
    assert!(
        before.contains("warn  Claude Code hooks missing"),
        "{before}"
    );
    let out = w
        .cmd()
        .args(["hooks", "install", "--runtime", "claude"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let after = w.ok(&["doctor"]);
    assert!(
        after.contains("ok    Claude Code hooks installed and calling this coord"),
        "{after}"
    );
    let broken = w
        .cmd()
        .env("COORD_URL", "sqlite:///proc/no/such/dir/coord.db")
        .args(["doctor"])
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stdout).contains("fail  store"));
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_itself() {
    let w = World::new();
    let bash = w.ok(&["completions", "bash"]);
    assert!(
        bash.contains("_coord()"),
        "{}",
        &bash[..bash.len().min(300)]
    );
    for command in ["ps", "hooks", "task", "completions", "man"] {
        assert!(bash.contains(command), "bash completion lacks {command}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(w.ok(&["completions", shell]).contains("coord"), "{shell}");
    }
    let refused = w.run(&["completions", "tcsh"]);
    assert_eq!(refused.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    w.ok(&["man", pages.to_str().unwrap()]);
    for page in [
        "coord.1",
        "coord-ps.1",
        "coord-task.1",
        "coord-task-claim.1",
        "coord-hooks-install.1",
    ] {
        let text =
            std::fs::read_to_string(pages.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {}",
            &text[..text.len().min(200)]
        );
    }
    let main = std::fs::read_to_string(pages.join("coord.1")).unwrap();
    assert!(
        main.contains("coord\\-ps(1)"),
        "the main page names its commands"
    );
}

#[test]
fn help_shows_examples_for_the_commands_people_use_first() {
    let w = World::new();
    for (command, example) in [
        ("ps", "coord ps --state blocked,stale"),
        ("run", "coord run -- claude"),
        ("task", "coord task add --label team=infra"),
        ("completions", "coord completions bash"),
    ] {
        let help = w.ok(&[command, "--help"]);
        assert!(
            help.contains("Examples:") && help.contains(example),
            "{command}: {help}"
        );
    }
    let help = w.ok(&["hooks", "--help"]);
    assert!(
        help.contains("coord hooks install --scope project"),
        "{help}"
    );
}

#[test]
fn output_whose_reader_went_away_ends_the_command_quietly() {
    let w = World::new();
    let _s = w.registered("s1", &[]);
    for args in [&["events"][..], &["show", "s1"], &["ps", "--json"]] {
        // The reader closes its end before coord writes (`coord events | head -0`).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = w
            .cmd()
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn the_event_log_keeps_as_many_events_as_coord_event_keep_says() {
    let w = World::new();
    let keep = |args: &[&str]| {
        w.cmd()
            .env("COORD_EVENT_KEEP", "20")
            .args(args)
            .output()
            .unwrap()
    };
    for i in 0..30 {
        let out = keep(&["register", "--id", &format!("s{i}")]);
        assert!(out.status.success(), "{out:?}");
    }
    assert!(keep(&["sweep"]).status.success());
    let events: serde_json::Value =
        serde_json::from_slice(&keep(&["events", "--json"]).stdout).unwrap();
    let seqs: Vec<u64> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (11..=30).collect::<Vec<_>>(), "the last 20");

    let out = w
        .cmd()
        .env("COORD_EVENT_KEEP", "lots")
        .args(["ps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("COORD_EVENT_KEEP=lots"),
        "{out:?}"
    );
}
