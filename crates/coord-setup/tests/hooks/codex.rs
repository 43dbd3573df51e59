//! Codex: `hooks.json`, `notify` chaining in `config.toml`, trust entries (only when asked,
//! only for coord's handlers, removed exactly), refusal of a broken TOML file, status.

use std::fmt::Write;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use coord_setup::{
    Agent, Change, FileOutcome, FileStatus, NotifyStatus, Scope, SetupError, Status, TRUST_COMMAND,
    TrustReport, TrustStatus,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::fixture::{COORD, Fixture, backup_of, json, listing, read, write};

const EVENTS: [(&str, &str); 11] = [
    ("SessionStart", "session_start"),
    ("UserPromptSubmit", "user_prompt_submit"),
    ("PreToolUse", "pre_tool_use"),
    ("PermissionRequest", "permission_request"),
    ("PostToolUse", "post_tool_use"),
    ("PreCompact", "pre_compact"),
    ("SubagentStart", "subagent_start"),
    ("SubagentStop", "subagent_stop"),
    ("Stop", "stop"),
    ("Interrupt", "interrupt"),
    ("SessionEnd", "session_end"),
];

/// A user's `config.toml` with comments, their own `notify` and other tables.
const CONFIG: &str = r#"# my Codex settings
model = "gpt-5-codex"
notify = ["notify-send", "Codex"] # desktop pop-up

[projects."/home/me/src"]
trust_level = "trusted"
"#;

fn timeout(event: &str) -> u64 {
    if matches!(event, "Interrupt" | "SessionEnd") {
        3
    } else {
        5
    }
}

/// The trust hash of coord's handler for `event`, computed here from the scheme itself.
fn expected_hash(event: &str, snake: &str) -> String {
    let canonical = format!(
        r#"{{"event_name":"{snake}","hooks":[{{"async":false,"command":"{COORD} hook {event}","timeout":{},"type":"command"}}]}}"#,
        timeout(event)
    );
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().fold(String::from("sha256:"), |mut hex, b| {
        write!(hex, "{b:02x}").unwrap();
        hex
    })
}

fn state(config: &Path) -> toml_edit::Table {
    let doc: toml_edit::DocumentMut = read(config).parse().unwrap();
    doc.get("hooks")
        .and_then(|h| h.get("state"))
        .and_then(toml_edit::Item::as_table)
        .cloned()
        .unwrap_or_default()
}

fn trusted_hash(state: &toml_edit::Table, key: &str) -> Option<String> {
    state
        .get(key)?
        .get("trusted_hash")?
        .as_str()
        .map(str::to_owned)
}

fn hooks_file_status(status: &Status) -> &[coord_setup::EventStatus] {
    match &status.files[0] {
        FileStatus::Hooks { events, .. } => events,
        FileStatus::CodexConfig { .. } => panic!("hooks.json comes first"),
    }
}

fn event_trust(status: &Status, event: &str) -> Vec<Option<TrustStatus>> {
    hooks_file_status(status)
        .iter()
        .find(|e| e.event == event)
        .unwrap()
        .handlers
        .iter()
        .map(|h| h.trust)
        .collect()
}

fn stale(status: &Status) -> Vec<String> {
    match &status.files[1] {
        FileStatus::CodexConfig { stale_trust, .. } => stale_trust.clone(),
        FileStatus::Hooks { .. } => panic!("config.toml comes second"),
    }
}

#[test]
fn fresh_install_writes_hooks_and_notify_and_leaves_trust_to_codex() {
    let fx = Fixture::new();
    let report = fx.install(Agent::Codex, Scope::User).unwrap();
    let hooks_json = fx.home(".codex/hooks.json");
    let config = fx.home(".codex/config.toml");

    assert_eq!(report.files.len(), 2);
    assert_eq!(report.files[0].path, hooks_json);
    assert_eq!(report.files[0].outcome, FileOutcome::Created);
    assert_eq!(report.files[1].path, config);
    assert_eq!(report.files[1].outcome, FileOutcome::Created);
    assert_eq!(
        report.trust,
        Some(TrustReport::LeftToReview {
            command: Some(TRUST_COMMAND.to_owned())
        })
    );
    assert!(report.to_string().contains(TRUST_COMMAND));

    let hooks = json(&hooks_json);
    let events: Vec<&String> = hooks["hooks"].as_object().unwrap().keys().collect();
    assert_eq!(events, EVENTS.map(|(e, _)| e).iter().collect::<Vec<_>>());
    for (event, _) in EVENTS {
        assert_eq!(
            hooks["hooks"][event],
            json!([{"hooks": [{"type": "command", "command": format!("{COORD} hook {event}"), "timeout": timeout(event)}]}])
        );
    }
    assert_eq!(
        read(&config),
        format!("notify = [\"{COORD}\", \"hook\", \"codex-notify\"]\n")
    );
    assert!(state(&config).is_empty(), "no trust without --trust");
}

#[test]
fn trust_entries_are_written_only_when_asked_with_codexs_hash() {
    let fx = Fixture::new().trusting();
    let report = fx.install(Agent::Codex, Scope::User).unwrap();
    let hooks_json = fx.home(".codex/hooks.json");
    let state = state(&fx.home(".codex/config.toml"));

    assert_eq!(state.len(), EVENTS.len());
    for (event, snake) in EVENTS {
        let key = format!("{}:{snake}:0:0", hooks_json.display());
        assert_eq!(
            trusted_hash(&state, &key),
            Some(expected_hash(event, snake)),
            "{key}"
        );
    }
    let Some(TrustReport::Trusted {
        handlers,
        not_trusted,
    }) = &report.trust
    else {
        panic!("trusted: {:?}", report.trust);
    };
    assert_eq!(handlers.len(), EVENTS.len());
    assert!(handlers.iter().all(|h| h.written_now));
    assert!(not_trusted.is_empty());

    let status = fx.status(Agent::Codex, Scope::User);
    for (event, _) in EVENTS {
        assert_eq!(
            event_trust(&status, event),
            [Some(TrustStatus::Trusted)],
            "{event}"
        );
    }
    assert!(
        status
            .to_string()
            .contains("  Stop: installed, calls this coord, trusted\n")
    );
}

#[test]
fn trust_is_never_written_for_the_users_handlers_and_theirs_is_kept() {
    let fx = Fixture::new().trusting();
    let hooks_json = fx.home(".codex/hooks.json");
    let config = fx.home(".codex/config.toml");
    let users_hooks = "{\n  \"hooks\": {\n    \"Stop\": [\n      {\n        \"hooks\": [\n          {\n            \"type\": \"command\",\n            \"command\": \"say done\"\n          }\n        ]\n      }\n    ]\n  }\n}\n";
    write(&hooks_json, users_hooks);
    let users_key = format!("{}:stop:0:0", hooks_json.display());
    let users_config =
        format!("{CONFIG}\n[hooks.state.\"{users_key}\"]\ntrusted_hash = \"sha256:theirs\"\n");
    write(&config, &users_config);

    fx.install(Agent::Codex, Scope::User).unwrap();
    let state = state(&config);
    assert_eq!(
        trusted_hash(&state, &users_key).as_deref(),
        Some("sha256:theirs")
    );
    let coords_key = format!("{}:stop:1:0", hooks_json.display());
    assert_eq!(
        trusted_hash(&state, &coords_key),
        Some(expected_hash("Stop", "stop"))
    );
    assert_eq!(state.len(), EVENTS.len() + 1);

    fx.uninstall(Agent::Codex, Scope::User).unwrap();
    assert_eq!(read(&hooks_json), users_hooks);
    assert_eq!(read(&config), users_config);
}

#[test]
fn a_second_install_changes_no_byte() {
    let fx = Fixture::new().trusting();
    write(&fx.home(".codex/config.toml"), CONFIG);
    fx.install(Agent::Codex, Scope::User).unwrap();
    let hooks = read(&fx.home(".codex/hooks.json"));
    let config = read(&fx.home(".codex/config.toml"));
    fs::remove_file(backup_of(&fx.home(".codex/config.toml"))).unwrap();

    let report = fx.install(Agent::Codex, Scope::User).unwrap();
    assert!(!report.changed());
    assert!(
        report
            .files
            .iter()
            .all(|f| f.outcome == FileOutcome::AlreadyInstalled && f.changes.is_empty())
    );
    let Some(TrustReport::Trusted { handlers, .. }) = &report.trust else {
        panic!("trusted");
    };
    assert!(handlers.iter().all(|h| !h.written_now));
    assert_eq!(read(&fx.home(".codex/hooks.json")), hooks);
    assert_eq!(read(&fx.home(".codex/config.toml")), config);
    assert_eq!(listing(&fx.home(".codex")), ["config.toml", "hooks.json"]);
}

#[test]
fn the_users_notify_is_chained_and_restored() {
    let fx = Fixture::new().trusting();
    let config = fx.home(".codex/config.toml");
    write(&config, CONFIG);

    let report = fx.install(Agent::Codex, Scope::User).unwrap();
    assert!(report.files[1].changes.contains(&Change::NotifyChained {
        theirs: vec!["notify-send".into(), "Codex".into()]
    }));
    let installed = read(&config);
    assert!(installed.starts_with(&format!(
        "# my Codex settings\nmodel = \"gpt-5-codex\"\nnotify = [\"{COORD}\", \"hook\", \"codex-notify\", \"notify-send\", \"Codex\"] # desktop pop-up\n\n[projects.\"/home/me/src\"]\ntrust_level = \"trusted\"\n"
    )));
    assert_eq!(read(&backup_of(&config)), CONFIG);
    let status = fx.status(Agent::Codex, Scope::User);
    let FileStatus::CodexConfig { notify, .. } = &status.files[1] else {
        panic!("config.toml");
    };
    assert_eq!(
        notify,
        &NotifyStatus::Installed {
            program: COORD.into(),
            calls_this_coord: true,
            chained: vec!["notify-send".into(), "Codex".into()],
        }
    );

    let report = fx.uninstall(Agent::Codex, Scope::User).unwrap();
    assert!(report.files[1].changes.contains(&Change::NotifyRestored {
        argv: vec!["notify-send".into(), "Codex".into()]
    }));
    assert_eq!(read(&config), CONFIG);
    assert_eq!(
        json(&fx.home(".codex/hooks.json")),
        json!({}),
        "coord's hooks were the only ones"
    );
}

#[test]
fn a_broken_config_toml_stops_everything_and_is_left_alone() {
    let fx = Fixture::new().trusting();
    let config = fx.home(".codex/config.toml");
    let broken = "model = \"gpt-5\"\n[projects\ntrust_level = \"trusted\"\n";
    write(&config, broken);

    let err = fx.install(Agent::Codex, Scope::User).unwrap_err();
    let SetupError::Parse {
        path, line, column, ..
    } = &err
    else {
        panic!("expected a parse error, got {err}");
    };
    assert_eq!(path, &config);
    assert_eq!((*line, *column), (2, 10));
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2:10:", config.display()))
    );
    assert_eq!(read(&config), broken);
    assert_eq!(
        listing(&fx.home(".codex")),
        ["config.toml"],
        "no hooks.json either"
    );
    assert!(fx.uninstall(Agent::Codex, Scope::User).is_err());
}

#[test]
fn a_truncated_hooks_json_is_refused_and_left_alone() {
    let fx = Fixture::new();
    let hooks_json = fx.home(".codex/hooks.json");
    write(&hooks_json, "{\"hooks\": {\"Stop\": [{\"hooks\": [");
    let err = fx.install(Agent::Codex, Scope::User).unwrap_err();
    assert!(matches!(err, SetupError::Parse { line: 1, .. }), "{err}");
    assert_eq!(read(&hooks_json), "{\"hooks\": {\"Stop\": [{\"hooks\": [");
    assert_eq!(listing(&fx.home(".codex")), ["hooks.json"]);
}

#[test]
fn status_reports_trust_lost_when_the_users_array_moves_coords_group() {
    let fx = Fixture::new().trusting();
    let hooks_json = fx.home(".codex/hooks.json");
    fx.install(Agent::Codex, Scope::User).unwrap();

    // The user adds a group in front of coord's Stop group: coord's moves from 0 to 1.
    let mut hooks = json(&hooks_json);
    hooks["hooks"]["Stop"].as_array_mut().unwrap().insert(
        0,
        json!({"hooks": [{"type": "command", "command": "say done"}]}),
    );
    fs::write(&hooks_json, serde_json::to_string_pretty(&hooks).unwrap()).unwrap();

    let status = fx.status(Agent::Codex, Scope::User);
    assert_eq!(event_trust(&status, "Stop"), [Some(TrustStatus::Untrusted)]);
    assert_eq!(
        event_trust(&status, "Interrupt"),
        [Some(TrustStatus::Trusted)]
    );
    let old_key = format!("{}:stop:0:0", hooks_json.display());
    assert_eq!(stale(&status), std::slice::from_ref(&old_key));
    assert!(
        status
            .to_string()
            .contains(&format!("stale trust entry {old_key}"))
    );

    // Installing with trust again moves the entry with the handler.
    let report = fx.install(Agent::Codex, Scope::User).unwrap();
    let changes = &report.files[1].changes;
    assert!(changes.contains(&Change::TrustRemoved { key: old_key }));
    assert!(changes.contains(&Change::TrustWritten {
        event: "Stop".into(),
        key: format!("{}:stop:1:0", hooks_json.display()),
    }));
    let status = fx.status(Agent::Codex, Scope::User);
    assert_eq!(event_trust(&status, "Stop"), [Some(TrustStatus::Trusted)]);
    assert!(stale(&status).is_empty());
}

#[test]
fn a_hand_edited_coord_handler_is_modified_and_not_vouched_for() {
    let fx = Fixture::new().trusting();
    let hooks_json = fx.home(".codex/hooks.json");
    fx.install(Agent::Codex, Scope::User).unwrap();
    let mut hooks = json(&hooks_json);
    hooks["hooks"]["Stop"][0]["hooks"][0]["timeout"] = json!(60);
    fs::write(&hooks_json, serde_json::to_string_pretty(&hooks).unwrap()).unwrap();

    let status = fx.status(Agent::Codex, Scope::User);
    assert_eq!(event_trust(&status, "Stop"), [Some(TrustStatus::Modified)]);

    let report = fx.install(Agent::Codex, Scope::User).unwrap();
    let Some(TrustReport::Trusted { not_trusted, .. }) = &report.trust else {
        panic!("trusted");
    };
    assert_eq!(not_trusted, &["Stop".to_owned()]);
    assert_eq!(
        trusted_hash(
            &state(&fx.home(".codex/config.toml")),
            &format!("{}:stop:0:0", hooks_json.display())
        ),
        None,
        "coord's old entry for it is gone, no new one written"
    );
}

#[test]
fn uninstall_removes_hooks_notify_and_exactly_coords_trust() {
    let fx = Fixture::new().trusting();
    let config = fx.home(".codex/config.toml");
    fx.install(Agent::Codex, Scope::User).unwrap();

    let report = fx.uninstall(Agent::Codex, Scope::User).unwrap();
    let trust_removed = report.files[1]
        .changes
        .iter()
        .filter(|c| matches!(c, Change::TrustRemoved { .. }))
        .count();
    assert_eq!(trust_removed, EVENTS.len());
    assert!(report.files[1].changes.contains(&Change::NotifyRemoved));
    assert_eq!(read(&config), "");
    assert_eq!(json(&fx.home(".codex/hooks.json")), json!({}));

    let status = fx.status(Agent::Codex, Scope::User);
    assert!(
        hooks_file_status(&status)
            .iter()
            .all(|e| e.handlers.is_empty())
    );
    let FileStatus::CodexConfig { notify, .. } = &status.files[1] else {
        panic!("config.toml");
    };
    assert_eq!(notify, &NotifyStatus::Missing);
}

#[test]
fn project_scope_touches_only_the_project_hooks_json() {
    let fx = Fixture::new().trusting();
    let report = fx.install(Agent::Codex, Scope::Project).unwrap();
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].path, fx.project(".codex/hooks.json"));
    assert_eq!(
        report.trust,
        Some(TrustReport::LeftToReview { command: None })
    );
    assert!(!fx.home(".codex").exists());

    let status = fx.status(Agent::Codex, Scope::Project);
    assert_eq!(status.files.len(), 1);
    assert!(status.is_complete());
    assert_eq!(event_trust(&status, "Stop"), [Some(TrustStatus::Untrusted)]);

    fx.uninstall(Agent::Codex, Scope::Project).unwrap();
    assert_eq!(json(&fx.project(".codex/hooks.json")), json!({}));
    assert!(!fx.home(".codex").exists());
}

#[test]
fn codex_home_is_resolved_in_trust_keys_as_codex_resolves_it() {
    let mut fx = Fixture::new().trusting();
    let real = fx.home("real-codex");
    fs::create_dir_all(&real).unwrap();
    symlink(&real, fx.home("codex-link")).unwrap();
    fx.paths.codex_home = Some(fx.home("codex-link"));

    let report = fx.install(Agent::Codex, Scope::User).unwrap();
    assert_eq!(report.files[0].path, real.join("hooks.json"));
    let state = state(&real.join("config.toml"));
    let prefix = format!("{}:", real.join("hooks.json").display());
    assert!(state.iter().all(|(key, _)| key.starts_with(&prefix)));
    assert_eq!(state.len(), EVENTS.len());
}

#[test]
fn status_before_install() {
    let fx = Fixture::new();
    write(&fx.home(".codex/config.toml"), CONFIG);
    let status = fx.status(Agent::Codex, Scope::User);
    assert!(!status.is_complete());
    assert!(
        hooks_file_status(&status)
            .iter()
            .all(|e| e.handlers.is_empty())
    );
    let FileStatus::CodexConfig { notify, exists, .. } = &status.files[1] else {
        panic!("config.toml");
    };
    assert!(exists);
    assert_eq!(
        notify,
        &NotifyStatus::Other {
            argv: vec!["notify-send".into(), "Codex".into()]
        }
    );
    let text = status.to_string();
    assert!(text.contains("hooks.json: does not exist"), "{text}");
    assert!(text.contains("notify: not coord's"), "{text}");
}

#[test]
fn uninstall_with_nothing_installed_creates_nothing() {
    let fx = Fixture::new();
    let report = fx.uninstall(Agent::Codex, Scope::User).unwrap();
    assert!(
        report
            .files
            .iter()
            .all(|f| f.outcome == FileOutcome::NothingToRemove)
    );
    assert!(!fx.home(".codex").exists());
    assert!(report.to_string().contains("nothing to remove"));
}
