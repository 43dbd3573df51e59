//! Claude Code's `settings.json`: fresh files, the user's own hooks and keys, idempotence,
//! refusal of broken files, uninstall, status.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use coord_setup::{
    Agent, Change, Delivery, FileOutcome, FileStatus, HandlerForm, Scope, SetupError, Status,
};
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

const BASE: &str = "http://127.0.0.1:7078";
const TOKEN: &str = "tok-3f9a1c";

fn http() -> Delivery {
    Delivery::Http {
        base: BASE.into(),
        token: TOKEN.into(),
    }
}

fn exec_group(event: &str) -> serde_json::Value {
    json!({"hooks": [{"type": "command", "command": COORD, "args": ["hook", event], "timeout": 5}]})
}

/// The forms of the handlers in a status, with whether each calls this coord, event by event.
fn forms(status: &Status) -> Vec<(HandlerForm, bool)> {
    let FileStatus::Hooks { events, .. } = &status.files[0] else {
        panic!("a hooks file");
    };
    events
        .iter()
        .flat_map(|e| &e.handlers)
        .map(|h| (h.form, h.calls_this_coord))
        .collect()
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

#[test]
fn exec_form_on_an_empty_home_and_beside_the_users_hooks() {
    let mut fx = Fixture::new();
    fx.opts.delivery = Delivery::Exec;
    let path = fx.home(".claude/settings.json");
    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(report.files[0].outcome, FileOutcome::Created);
    let hooks: serde_json::Map<_, _> = EVENTS
        .iter()
        .map(|e| ((*e).to_owned(), json!([exec_group(e)])))
        .collect();
    assert_eq!(json(&path), json!({ "hooks": hooks }));
    assert!(
        report
            .to_string()
            .contains(&format!("added Stop: {COORD} hook Stop\n"))
    );
    assert_eq!(
        forms(&fx.status(Agent::ClaudeCode, Scope::User)),
        [(HandlerForm::Exec, true); EVENTS.len()]
    );

    write(&path, USERS);
    fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let after = json(&path);
    let keys: Vec<&String> = after.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["permissions", "hooks", "model", "alwaysThinkingEnabled"]
    );
    assert_eq!(
        after["hooks"]["Stop"],
        json!([{"hooks": [{"type": "command", "command": "notify-send done"}]}, exec_group("Stop")])
    );
    assert_eq!(after["hooks"]["MyFutureEvent"], json!({"whatever": true}));
    assert!(fx.status(Agent::ClaudeCode, Scope::User).is_complete());
}

#[test]
fn each_form_installs_once_and_uninstalls_to_the_users_file() {
    for delivery in [Delivery::Shell, Delivery::Exec, http()] {
        let mut fx = Fixture::new();
        fx.opts.delivery = delivery.clone();
        let path = fx.home(".claude/settings.json");
        write(&path, USERS);
        fx.install(Agent::ClaudeCode, Scope::User).unwrap();
        let installed = read(&path);
        fs::remove_file(backup_of(&path)).unwrap();

        let again = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
        assert_eq!(
            again.files[0].outcome,
            FileOutcome::AlreadyInstalled,
            "{delivery:?}"
        );
        assert_eq!(read(&path), installed);
        assert!(!backup_of(&path).exists());
        assert!(fx.status(Agent::ClaudeCode, Scope::User).is_complete());

        // Uninstall finds coord's handlers whatever delivery it is given.
        fx.opts.delivery = Delivery::Shell;
        let removed = fx.uninstall(Agent::ClaudeCode, Scope::User).unwrap();
        assert_eq!(removed.files[0].changes.len(), EVENTS.len(), "{delivery:?}");
        assert!(removed.files[0].changes.iter().all(|c| matches!(
            c, Change::HookRemoved { form, .. } if *form == delivery.form()
        )));
        assert_eq!(read(&path), USERS, "{delivery:?}");
    }
}

#[test]
fn conversions_happen_in_place_and_keep_the_users_keys() {
    let mut fx = Fixture::new();
    let path = fx.home(".claude/settings.json");
    // coord's Stop handler was moved into the user's group and given keys of the user's own.
    let start = USERS.replace(
        "\"command\": \"notify-send done\"\n          }",
        &format!(
            "\"command\": \"notify-send done\"\n          }},\n          {{\n            \"type\": \"command\",\n            \"command\": \"{COORD} hook Stop\",\n            \"timeout\": 9,\n            \"async\": true,\n            \"statusMessage\": \"telling coord\"\n          }}"
        ),
    );
    assert_ne!(start, USERS);
    write(&path, &start);
    fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let shell = read(&path);
    let stop = |settings: &serde_json::Value| settings["hooks"]["Stop"].clone();
    assert_eq!(
        stop(&json(&path))[0]["hooks"][1],
        json!({"type": "command", "command": format!("{COORD} hook Stop"), "timeout": 9, "async": true, "statusMessage": "telling coord"})
    );

    fx.opts.delivery = Delivery::Exec;
    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(report.files[0].changes.len(), EVENTS.len());
    assert!(report.files[0].changes.contains(&Change::HookRetargeted {
        event: "Stop".into(),
        from: format!("{COORD} hook Stop"),
        from_form: HandlerForm::Shell,
        to: format!("{COORD} hook Stop"),
        form: HandlerForm::Exec,
    }));
    let exec = json(&path);
    assert_eq!(stop(&exec).as_array().unwrap().len(), 1, "no group added");
    assert_eq!(
        stop(&exec)[0]["hooks"][1],
        json!({"type": "command", "command": COORD, "args": ["hook", "Stop"], "timeout": 9, "async": true, "statusMessage": "telling coord"})
    );
    assert_eq!(exec["hooks"]["PreToolUse"][1], exec_group("PreToolUse"));

    fx.opts.delivery = http();
    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let text = report.to_string();
    assert!(
        text.contains(&format!(
            "  Stop: now POST {BASE}/coord/hook/Stop with X-Coord-Hook-Token: *** (was {COORD} hook Stop)\n"
        )),
        "{text}"
    );
    assert!(!text.contains(TOKEN));
    assert!(!serde_json::to_string(&report).unwrap().contains(TOKEN));
    let posted = json(&path);
    let handler = &stop(&posted)[0]["hooks"][1];
    let keys: Vec<&String> = handler.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "type",
            "url",
            "headers",
            "timeout",
            "async",
            "statusMessage"
        ]
    );
    assert_eq!(handler["type"], "http");
    assert_eq!(handler["url"], format!("{BASE}/coord/hook/Stop"));
    assert_eq!(handler["headers"], json!({"X-Coord-Hook-Token": TOKEN}));
    assert_eq!(
        posted["hooks"]["SessionStart"][0]["hooks"][0],
        json!({"type": "http", "url": format!("{BASE}/coord/hook/SessionStart"), "timeout": 5, "headers": {"X-Coord-Hook-Token": TOKEN}})
    );

    // A new token (or base) is a retarget too.
    fx.opts.delivery = Delivery::Http {
        base: BASE.into(),
        token: "another".into(),
    };
    let report = fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(report.files[0].changes.len(), EVENTS.len());
    assert!(report.to_string().contains("(a new token)"));

    fx.opts.delivery = Delivery::Shell;
    fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    assert_eq!(read(&path), shell, "back to the shell form byte for byte");
}

#[test]
fn http_status_names_the_url_and_never_the_token() {
    let mut fx = Fixture::new();
    fx.opts.delivery = http();
    fx.install(Agent::ClaudeCode, Scope::User).unwrap();
    let status = fx.status(Agent::ClaudeCode, Scope::User);
    assert!(status.is_complete());
    assert_eq!(forms(&status), [(HandlerForm::Http, true); EVENTS.len()]);
    let text = status.to_string();
    assert!(
        text.contains(&format!(
            "  Stop: installed as http, posts to {BASE}/coord/hook/Stop (this host's watcher)\n"
        )),
        "{text}"
    );
    let value = serde_json::to_value(&status).unwrap();
    let stop = &value["files"][0]["events"][7]["handlers"][0];
    assert_eq!(stop["form"], "http");
    assert_eq!(stop["command"], format!("POST {BASE}/coord/hook/Stop"));
    assert_eq!(stop["url"], format!("{BASE}/coord/hook/Stop"));
    assert!(stop.get("program").is_none());
    assert!(!text.contains(TOKEN) && !value.to_string().contains(TOKEN));
}

#[test]
fn http_in_project_scope_and_other_forms_for_codex_are_refused() {
    let mut fx = Fixture::new();
    fx.opts.delivery = http();
    let err = fx.install(Agent::ClaudeCode, Scope::Project).unwrap_err();
    assert!(
        matches!(err, SetupError::HttpInProject(ref p) if *p == fx.project(".claude/settings.json")),
        "{err}"
    );
    assert!(err.to_string().contains("committed"), "{err}");
    assert!(!fx.project(".claude").exists());

    for delivery in [http(), Delivery::Exec] {
        fx.opts.delivery = delivery.clone();
        for scope in [Scope::User, Scope::Project] {
            let err = fx.install(Agent::Codex, scope).unwrap_err();
            assert!(
                matches!(err, SetupError::CodexShellOnly(form) if form == delivery.form()),
                "{err}"
            );
            assert!(err.to_string().contains("trust hash"), "{err}");
            assert!(!err.to_string().contains(TOKEN));
        }
    }
    assert!(!fx.home(".codex").exists() && !fx.project(".codex").exists());

    fx.opts.delivery = Delivery::Http {
        base: format!("{BASE}/"),
        token: TOKEN.into(),
    };
    let err = fx.install(Agent::ClaudeCode, Scope::User).unwrap_err();
    assert!(matches!(err, SetupError::HttpBase(_)), "{err}");
    assert!(!fx.home(".claude").exists());
}
