//! Claude Code's `settings.json`: fresh files, the user's own hooks and keys, idempotence,
//! refusal of broken files, uninstall, status.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use coord_setup::{Agent, Change, FileOutcome, FileStatus, HandlerForm, Scope, SetupError};
use serde_json::json;

use crate::fixture::{COORD, Fixture, backup_of, json, listing, read, write};

const EVENTS: [&str; 13] = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "Notification",
    "Stop",
    "StopFailure",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "SessionEnd",
];

/// A settings file as Claude Code writes it, with the user's own hooks and keys in no sorted order.
const USERS: &str = r#"{
  "permissions": {
    "allow": [
      "Bash(git status)"
    ]
  },
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
    ],
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "~/bin/guard.sh",
            "timeout": 30
          }
        ]
      }
    ],
    "MyFutureEvent": {
      "whatever": true
    }
  },
  "model": "opus",
  "alwaysThinkingEnabled": true
}
"#;

fn coord_group(event: &str) -> serde_json::Value {
    json!({"hooks": [{"type": "command", "command": format!("{COORD} hook {event}"), "timeout": 5}]})
}

#[test]
fn fresh_install_creates_the_file_with_one_group_per_event() {
    let fx = Fixture::new();
    let path = fx.home(".claude/settings.json");
    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();

    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].path, path);
    assert_eq!(report.files[0].outcome, FileOutcome::Created);
    assert_eq!(report.files[0].changes.len(), EVENTS.len());
    let hooks: serde_json::Map<_, _> = EVENTS
        .iter()
        .map(|e| ((*e).to_owned(), json!([coord_group(e)])))
        .collect();
    assert_eq!(json(&path), json!({ "hooks": hooks }));
    assert!(read(&path).starts_with("{\n  \"hooks\": {\n    \"SessionStart\": ["));
    assert!(read(&path).ends_with("}\n"));
    let mode = |p| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(fx.home(".claude")), 0o700);
    assert_eq!(mode(path.clone()), 0o600);
    assert_eq!(listing(&fx.home(".claude")), ["settings.json"]);
}

#[test]
fn install_keeps_the_users_hooks_and_keys_in_order() {
    let fx = Fixture::new();
    let path = fx.home(".claude/settings.json");
    write(&path, USERS);

    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let backup = backup_of(&path);
    assert_eq!(
        report.files[0].outcome,
        FileOutcome::Written {
            backup: backup.clone()
        }
    );
    assert_eq!(read(&backup), USERS);

    let after = json(&path);
    let keys: Vec<&String> = after.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["permissions", "hooks", "model", "alwaysThinkingEnabled"]
    );
    let events: Vec<&String> = after["hooks"].as_object().unwrap().keys().collect();
    assert_eq!(&events[..3], ["Stop", "PreToolUse", "MyFutureEvent"]);
    assert_eq!(after["hooks"]["MyFutureEvent"], json!({"whatever": true}));
    assert_eq!(
        after["hooks"]["Stop"],
        json!([
            {"hooks": [{"type": "command", "command": "notify-send done"}]},
            coord_group("Stop")
        ])
    );
    assert_eq!(
        after["hooks"]["PreToolUse"][0],
        json!({"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/guard.sh", "timeout": 30}]})
    );
    assert_eq!(after["hooks"]["PreToolUse"][1], coord_group("PreToolUse"));
}

#[test]
fn a_second_install_changes_no_byte_and_makes_no_backup() {
    let fx = Fixture::new();
    let path = fx.home(".claude/settings.json");
    write(&path, USERS);
    fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let installed = read(&path);
    let modified = fs::metadata(&path).unwrap().modified().unwrap();
    fs::remove_file(backup_of(&path)).unwrap();

    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(report.files[0].outcome, FileOutcome::AlreadyInstalled);
    assert!(report.files[0].changes.is_empty());
    assert!(!report.changed());
    assert!(report.to_string().contains("already installed, unchanged"));
    assert_eq!(read(&path), installed);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), modified);
    assert!(!backup_of(&path).exists());
}

#[test]
fn uninstall_gives_back_the_users_file_byte_for_byte() {
    let fx = Fixture::new();
    let path = fx.home(".claude/settings.json");
    write(&path, USERS);
    fx.install(Agent::ClaudeCode, Scope::User).unwrap();

    let report = fx.uninstall(Agent::ClaudeCode, Scope::User).unwrap();
    assert!(matches!(
        report.files[0].outcome,
        FileOutcome::Written { .. }
    ));
    assert_eq!(report.files[0].changes.len(), EVENTS.len());
    assert_eq!(read(&path), USERS);

    let again = fx.uninstall(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(again.files[0].outcome, FileOutcome::NothingToRemove);
    assert_eq!(read(&path), USERS);
}

#[test]
fn another_layout_is_kept_through_install_and_uninstall() {
    let fx = Fixture::new();
    let path = fx.home(".claude/settings.json");
    let four_spaces = "{\n    \"model\": \"sonnet\",\n    \"hooks\": {\n        \"Stop\": [\n            {\n                \"hooks\": [\n                    {\n                        \"type\": \"command\",\n                        \"command\": \"say done\"\n                    }\n                ]\n            }\n        ]\n    }\n}";
    write(&path, four_spaces);
    fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert!(read(&path).contains("\n        \"SessionStart\": [\n            {\n"));
    assert!(!read(&path).ends_with('\n'));
    fx.uninstall(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(read(&path), four_spaces);
}

#[test]
fn a_file_without_hooks_comes_back_without_them() {
    let fx = Fixture::new();
    let path = fx.project(".claude/settings.json");
    let plain = "{\n  \"model\": \"opus\"\n}\n";
    write(&path, plain);
    fx.install(Agent::ClaudeCode, Scope::Project).unwrap();
    assert_eq!(
        json(&path)["hooks"].as_object().unwrap().len(),
        EVENTS.len()
    );
    fx.uninstall(Agent::ClaudeCode, Scope::Project).unwrap();
    assert_eq!(read(&path), plain);
}

#[test]
fn a_truncated_file_is_refused_and_left_alone() {
    let fx = Fixture::new();
    let path = fx.home(".claude/settings.json");
    let truncated = "{\n  \"model\": \"opus\",\n  \"hooks\": {\n    \"Stop\": [\n";
    write(&path, truncated);

    for result in [
        fx.install(Agent::ClaudeCode, Scope::User),
        fx.uninstall(Agent::ClaudeCode, Scope::User),
    ] {
        let err = result.unwrap_err();
        let SetupError::Parse {
            path: ref at, line, ..
        } = err
        else {
            panic!("expected a parse error, got {err}");
        };
        assert_eq!(at, &path);
        assert_eq!(line, 5);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}:5:", path.display())),
            "{message}"
        );
    }
    assert!(coord_setup::status(Agent::ClaudeCode, Scope::User, &fx.paths, &fx.opts).is_err());
    assert_eq!(read(&path), truncated);
    assert_eq!(listing(&fx.home(".claude")), ["settings.json"]);
}

#[test]
fn a_file_of_another_shape_is_refused_and_left_alone() {
    let fx = Fixture::new();
    let path = fx.home(".claude/settings.json");
    for (text, key) in [
        ("[1, 2]\n", "the top level"),
        ("{\"hooks\": [\"Stop\"]}\n", "hooks"),
        ("{\"hooks\": {\"Stop\": \"coord\"}}\n", "hooks.Stop"),
    ] {
        write(&path, text);
        let err = fx.install(Agent::ClaudeCode, Scope::User).unwrap_err();
        assert!(
            matches!(err, SetupError::Shape { key: ref k, .. } if k == key),
            "{text}: {err}"
        );
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(read(&path), text);
        assert!(!backup_of(&path).exists());
    }
}

#[test]
fn claude_config_dir_and_project_scope_pick_their_files() {
    let mut fx = Fixture::new();
    fx.paths.claude_config_dir = Some(fx.home("alt-claude"));
    let user = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(user.files[0].path, fx.home("alt-claude/settings.json"));
    let project = fx.install(Agent::ClaudeCode, Scope::Project).unwrap();
    assert_eq!(project.files[0].path, fx.project(".claude/settings.json"));
    assert!(!fx.home(".claude").exists());
}

#[test]
fn status_before_and_after_and_with_another_coord() {
    let fx = Fixture::new();
    let path = fx.home(".claude/settings.json");

    let before = fx.status(Agent::ClaudeCode, Scope::User);
    assert!(!before.is_complete());
    let FileStatus::Hooks { exists, events, .. } = &before.files[0] else {
        panic!("a hooks file");
    };
    assert!(!exists);
    assert!(events.iter().all(|e| e.handlers.is_empty()));
    assert!(before.to_string().contains("does not exist"));

    fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let after = fx.status(Agent::ClaudeCode, Scope::User);
    assert!(after.is_complete());
    let FileStatus::Hooks { events, .. } = &after.files[0] else {
        panic!("a hooks file");
    };
    assert_eq!(events.len(), EVENTS.len());
    for event in events {
        assert_eq!(event.handlers.len(), 1, "{}", event.event);
        let handler = &event.handlers[0];
        assert!(handler.calls_this_coord);
        assert_eq!(handler.command, format!("{COORD} hook {}", event.event));
        assert_eq!(handler.trust, None);
    }
    let text = after.to_string();
    assert!(
        text.contains("  Stop: installed, calls this coord\n"),
        "{text}"
    );

    // Another coord binary installed the Stop hook: status says so, install points it here.
    let edited = read(&path).replace(
        &format!("\"{COORD} hook Stop\""),
        "\"'/old place/coord' hook Stop\"",
    );
    fs::write(&path, edited).unwrap();
    let moved = fx.status(Agent::ClaudeCode, Scope::User);
    assert!(!moved.is_complete());
    assert!(
        moved
            .to_string()
            .contains("  Stop: installed, calls another coord: /old place/coord\n")
    );
    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(
        report.files[0].changes,
        [Change::HookRetargeted {
            event: "Stop".into(),
            from: "'/old place/coord' hook Stop".into(),
            from_form: HandlerForm::Shell,
            to: format!("{COORD} hook Stop"),
            form: HandlerForm::Shell,
        }]
    );
    assert!(fx.status(Agent::ClaudeCode, Scope::User).is_complete());
}

#[test]
fn a_coord_path_that_needs_quoting_is_quoted_and_found_again() {
    let mut fx = Fixture::new();
    fx.opts.coord = "/home/me/my tools/coord".into();
    fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let settings = json(&fx.home(".claude/settings.json"));
    assert_eq!(
        settings["hooks"]["Stop"][0]["hooks"][0]["command"],
        "'/home/me/my tools/coord' hook Stop"
    );
    assert!(fx.status(Agent::ClaudeCode, Scope::User).is_complete());
    let again = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(again.files[0].outcome, FileOutcome::AlreadyInstalled);
}

#[test]
fn a_relative_coord_path_is_refused() {
    let mut fx = Fixture::new();
    fx.opts.coord = "coord".into();
    let err = fx.install(Agent::ClaudeCode, Scope::User).unwrap_err();
    assert!(matches!(err, SetupError::CoordPathNotAbsolute(_)), "{err}");
    assert!(!fx.home(".claude").exists());
}

#[test]
fn reports_serialize_for_json_output() {
    let fx = Fixture::new();
    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["operation"], "install");
    assert_eq!(value["agent"], "claude");
    assert_eq!(value["scope"], "user");
    assert_eq!(value["files"][0]["outcome"], "created");
    assert_eq!(value["files"][0]["changes"][0]["change"], "hook_added");
    assert_eq!(value["files"][0]["changes"][0]["event"], "SessionStart");
    assert!(value.get("trust").is_none());

    let status = serde_json::to_value(fx.status(Agent::ClaudeCode, Scope::User)).unwrap();
    assert_eq!(status["files"][0]["kind"], "hooks");
    assert_eq!(
        status["files"][0]["events"][0]["handlers"][0]["calls_this_coord"],
        true
    );
}
