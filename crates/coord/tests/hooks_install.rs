//! `coord hooks install|uninstall|status` on real settings files, and the installed hooks run
//! the way the agents run them (`sh -c "<command>"`, or the exec form's program and `args`
//! started directly, the event on stdin). The HTTP form is tested with the watcher that
//! receives it, in `host_watch.rs`.

mod common;

use std::fs;
use std::process::Command;

use common::{World, feed};
use serde_json::Value;

/// A user's settings as Claude Code writes them (two-space JSON, one array item per line).
const USER_SETTINGS: &str = r#"{
  "model": "opus",
  "hooks": {
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "notify-send done"
          }
        ]
      }
    ]
  },
  "permissions": {
    "allow": [
      "Bash(ls:*)"
    ]
  }
}
"#;

fn settings(w: &World) -> std::path::PathBuf {
    w.dir.path().join(".claude/settings.json")
}

fn hooks(w: &World, args: &[&str]) -> std::process::Output {
    hooks_command(w, args).output().unwrap()
}

/// `coord hooks ARGS` in the world's directory, not yet run.
fn hooks_command(w: &World, args: &[&str]) -> Command {
    let mut cmd = w.cmd();
    cmd.arg("hooks").args(args).current_dir(w.dir.path());
    cmd
}

/// The parsed settings file.
fn settings_doc(w: &World) -> Value {
    serde_json::from_slice(&fs::read(settings(w)).unwrap()).unwrap()
}

#[test]
fn install_keeps_the_users_hooks_is_idempotent_and_uninstall_restores_the_file() {
    let w = World::new();
    fs::create_dir_all(settings(&w).parent().unwrap()).unwrap();
    fs::write(settings(&w), USER_SETTINGS).unwrap();

    let first = hooks(&w, &["install", "--runtime", "claude"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let installed = fs::read(settings(&w)).unwrap();
    let doc: Value = serde_json::from_slice(&installed).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["model", "hooks", "permissions"],
        "the user's keys, in their order"
    );
    let stop = doc["hooks"]["Stop"].as_array().unwrap();
    assert_eq!(
        stop[0]["hooks"][0]["command"], "notify-send done",
        "the user's hook stays first"
    );
    let ours = stop[1]["hooks"][0]["command"].as_str().unwrap();
    assert!(ours.ends_with(" hook Stop"), "{ours}");

    let second = hooks(&w, &["install", "--runtime", "claude"]);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("already installed"));
    assert_eq!(
        fs::read(settings(&w)).unwrap(),
        installed,
        "a second install changes no byte"
    );

    let status = hooks(&w, &["status", "--runtime", "claude"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("calls this coord"));

    assert!(
        hooks(&w, &["uninstall", "--runtime", "claude"])
            .status
            .success()
    );
    assert_eq!(fs::read_to_string(settings(&w)).unwrap(), USER_SETTINGS);
}

#[test]
fn a_settings_file_that_does_not_parse_is_refused_and_left_untouched() {
    let w = World::new();
    fs::create_dir_all(settings(&w).parent().unwrap()).unwrap();
    let broken = "{\n  \"model\": \"opus\",\n  \"hooks\": {\n";
    fs::write(settings(&w), broken).unwrap();
    let out = hooks(&w, &["install", "--runtime", "claude"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("settings.json:4"),
        "names the file and line: {err}"
    );
    assert_eq!(fs::read_to_string(settings(&w)).unwrap(), broken);
}

#[test]
fn an_installed_hook_run_as_claude_code_runs_it_records_the_session() {
    let w = World::new();
    assert!(
        hooks(&w, &["install", "--runtime", "claude"])
            .status
            .success()
    );
    let doc = settings_doc(&w);
    let command = doc["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = feed(
        Command::new("sh")
            .args(["-c", &command])
            .env("COORD_URL", w.url()),
        br#"{"session_id":"s-1","cwd":"/w","hook_event_name":"PreToolUse","tool_name":"Bash"}"#,
    );
    assert!(out.status.success() && out.stdout.is_empty());
    let s = w.session("s-1").unwrap();
    assert_eq!(
        (s["state"].as_str(), s["tool"].as_str()),
        (Some("in-tool"), Some("Bash"))
    );
}

/// `coord hooks install --runtime claude` with a `claude` on `PATH` that says it is `version`.
fn install_beside_claude(w: &World, version: &str) -> std::process::Output {
    let bin = w.dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let claude = bin.join("claude");
    fs::write(
        &claude,
        format!("#!/bin/sh\necho '{version} (Claude Code)'\n"),
    )
    .unwrap();
    fs::set_permissions(&claude, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    hooks_command(w, &["install", "--runtime", "claude"])
        .env("PATH", path)
        .output()
        .unwrap()
}

#[test]
fn a_claude_code_that_takes_the_exec_form_gets_it_and_runs_it_without_a_shell() {
    let w = World::new();
    let out = install_beside_claude(&w, "2.1.328");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = settings_doc(&w);
    let handler = &doc["hooks"]["PreToolUse"][0]["hooks"][0];
    assert_eq!(
        handler["args"],
        serde_json::json!(["hook", "PreToolUse"]),
        "{handler}"
    );
    let program = handler["command"].as_str().unwrap();
    assert!(program.ends_with("/coord"), "{program}");

    // As Claude Code runs the exec form: the program itself, its args, no shell between.
    let out = feed(
        Command::new(program)
            .arg(handler["args"][0].as_str().unwrap())
            .arg(handler["args"][1].as_str().unwrap())
            .env("COORD_URL", w.url())
            .env("HOME", w.dir.path()),
        br#"{"session_id":"s-exec","cwd":"/w","hook_event_name":"PreToolUse","tool_name":"Read"}"#,
    );
    assert!(out.status.success() && out.stdout.is_empty());
    assert_eq!(w.session("s-exec").unwrap()["tool"], "Read");

    // An older Claude Code would run the program alone through the shell: it gets the shell
    // form, converted in place.
    let out = install_beside_claude(&w, "2.1.100");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = settings_doc(&w);
    let handler = &doc["hooks"]["PreToolUse"][0]["hooks"][0];
    assert!(handler.get("args").is_none(), "{handler}");
    assert!(
        handler["command"]
            .as_str()
            .unwrap()
            .ends_with("/coord hook PreToolUse"),
        "{handler}"
    );
}

#[test]
fn codex_install_chains_the_users_notify_and_leaves_trust_to_the_user_unless_asked() {
    let w = World::new();
    let codex = w.dir.path().join(".codex");
    fs::create_dir_all(&codex).unwrap();
    let config = "# mine\nmodel = \"gpt-6\"\nnotify = [\"/usr/bin/my-notify\", \"--loud\"]\n";
    fs::write(codex.join("config.toml"), config).unwrap();
    let out = hooks(&w, &["install", "--runtime", "codex"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--trust"));
    let installed = fs::read_to_string(codex.join("config.toml")).unwrap();
    assert!(
        installed.contains("\"hook\", \"codex-notify\", \"/usr/bin/my-notify\", \"--loud\"]"),
        "{installed}"
    );
    assert!(!installed.contains("trusted_hash"));
    let trusted = hooks(&w, &["install", "--runtime", "codex", "--trust"]);
    assert!(trusted.status.success());
    assert!(
        fs::read_to_string(codex.join("config.toml"))
            .unwrap()
            .contains("trusted_hash = \"sha256:")
    );
    assert!(
        hooks(&w, &["uninstall", "--runtime", "codex"])
            .status
            .success()
    );
    assert_eq!(
        fs::read_to_string(codex.join("config.toml")).unwrap(),
        config
    );
}
