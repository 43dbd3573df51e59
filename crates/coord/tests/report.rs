//! `coord report`: a Claude Code session's turn, driven through its real hook events, comes
//! back as the time in each phase, the times each was entered and the changes between them,
//! per session and for the fleet, over the window asked for.

mod common;

use std::time::Duration;

use common::World;
use serde_json::Value;

fn report(w: &World, since: &str) -> Value {
    serde_json::from_str(&w.ok(&["report", "--since", since, "--json"])).unwrap()
}

#[test]
fn a_turn_with_a_permission_prompt_is_reported_phase_by_phase() {
    let w = World::new();
    w.claude_hook("s1", "SessionStart", r#","source":"startup""#);
    w.claude_hook("s1", "UserPromptSubmit", r#","prompt":"fix it""#);
    w.claude_hook("s1", "PermissionRequest", r#","tool_name":"Bash""#);
    std::thread::sleep(Duration::from_millis(400));
    w.claude_hook(
        "s1",
        "PostToolUse",
        r#","tool_name":"Bash","tool_use_id":"t1""#,
    );
    w.claude_hook("s1", "Stop", "");
    w.claude_hook("s2", "SessionStart", r#","source":"startup""#);

    let r = report(&w, "1h");
    let s1 = r["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "s1")
        .expect("s1 is reported");
    assert!(s1["time_ms"]["blocked"].as_i64().unwrap() >= 400, "{s1}");
    assert_eq!(s1["entered"]["blocked"], 1, "{s1}");
    assert_eq!(s1["entered"]["waiting"], 1, "{s1}");
    let changes: Vec<(&str, &str)> = s1["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
        .collect();
    for change in [
        ("waiting", "working"),
        ("working", "blocked"),
        ("blocked", "working"),
    ] {
        assert!(changes.contains(&change), "{change:?} in {changes:?}");
    }
    // s2 has not left the phase it started in: its time is there.
    assert_eq!(r["fleet"]["entered"]["blocked"], 1);
    assert!(
        r["fleet"]["time_ms"]["waiting"].as_i64().unwrap() > 0,
        "{r}"
    );

    let text = w.ok(&["report"]);
    let header = text.lines().nth(1).unwrap_or_default();
    for column in ["SESSION", "WORKING", "BLOCKED", "WAITING", "EXITS"] {
        assert!(header.contains(column), "{column} in {text}");
    }
    let fleet = text.lines().last().unwrap_or_default();
    assert!(fleet.starts_with("fleet") && fleet.contains("×1"), "{text}");

    // A window that opens after the turn counts no change, only the time in the last phase.
    std::thread::sleep(Duration::from_millis(300));
    let late = report(&w, "200ms");
    assert_eq!(late["fleet"]["entered"], serde_json::json!({}), "{late}");
    let waiting = late["fleet"]["time_ms"]["waiting"].as_i64().unwrap();
    assert!(
        (300..=450).contains(&waiting),
        "two sessions' 200 ms: {late}"
    );
}
