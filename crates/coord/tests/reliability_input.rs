//! Bad input, fuzzed: the hook entry points fed random bytes, mangled events, invalid UTF-8
//! and huge inputs (exit 0, no output, no write), and `coord hooks install` fed settings files
//! mangled until they no longer parse (refused, and left byte for byte as they were). 200
//! inputs of each in CI, 2000 with `COORD_RELIABILITY_SCALE=full`. The JSON-RPC endpoint's
//! fuzz lives with the server's tests (`server.rs`).

mod common;

use common::{Rng, World, publish, scaled, seed};

const EVENT: &[u8] = br#"{"session_id":"real","cwd":"/w","transcript_path":"/w/t.jsonl","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}"#;

const SETTINGS: &str = r#"{
  "model": "opus",
  "hooks": {
    "Stop": [
      { "hooks": [ { "type": "command", "command": "notify-send done" } ] }
    ]
  },
  "permissions": { "allow": [ "Bash(ls:*)" ] }
}
"#;

/// `bytes` changed at a few random places (a byte replaced, removed or inserted).
fn mangle(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..=rng.next() % 4 {
        let at = (rng.next() % b.len() as u64) as usize;
        match rng.next() % 3 {
            0 => b[at] = rng.next() as u8,
            1 => {
                b.remove(at);
            }
            _ => b.insert(at, rng.next() as u8),
        }
    }
    b
}

/// A garbage hook input of one of several kinds.
fn garbage(rng: &mut Rng, i: usize) -> Vec<u8> {
    match i % 5 {
        0 => (0..=rng.next() % 512).map(|_| rng.next() as u8).collect(),
        // A mangled event that no longer parses (one that still does is an event: without a
        // session id, it beats the default id).
        1 => loop {
            let b = mangle(rng, EVENT);
            if serde_json::from_slice::<serde_json::Value>(&b).is_err() {
                break b;
            }
        },
        // Cut short (not to nothing: no input at all is a heartbeat of the default id).
        2 => {
            let cut = 1 + (rng.next() % (EVENT.len() as u64 - 1)) as usize;
            EVENT[..cut].to_vec()
        }
        3 => {
            let mut b = br#"{"session_id":""#.to_vec();
            b.extend((0..=rng.next() % 64).map(|_| 0x80 | (rng.next() as u8 & 0x3f)));
            b.extend_from_slice(br#""}"#);
            b
        }
        _ => {
            let size = ((1 + rng.next() % 8) as usize) << 20;
            let fill = [b'{', b'[', b'"', b'a'][(rng.next() % 4) as usize];
            vec![fill; size]
        }
    }
}

#[test]
fn fuzzed_hook_input_exits_0_silently_and_writes_nothing() {
    let w = World::new();
    let mut rng = Rng(seed());
    let events = [
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SessionStart",
        "codex-notify",
    ];
    // One real session, so that "writes nothing" is checked against a store that exists.
    w.hook(&[], br#"{"session_id":"real"}"#);
    let before = w.ok(&["events", "--json"]);
    let inputs = scaled(200, 2000);
    let mut largest = 0;
    for i in 0..inputs {
        let input = garbage(&mut rng, i);
        largest = largest.max(input.len());
        let out = if i % 2 == 0 {
            w.hook(&[], &input)
        } else {
            w.hook_on("vm", events[i / 2 % events.len()], &input)
        };
        let shown = String::from_utf8_lossy(&input[..input.len().min(200)]).into_owned();
        assert_eq!(out.status.code(), Some(0), "{shown}");
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{shown}");
    }
    assert_eq!(
        w.ok(&["events", "--json"]),
        before,
        "garbage wrote something"
    );
    assert_eq!(w.ps()["sessions"].as_array().unwrap().len(), 1);
    publish(
        "hook-fuzz",
        &[
            ("inputs", inputs.to_string()),
            ("largest_mib", (largest >> 20).to_string()),
            ("crashes", "0".to_owned()),
            ("writes", "0".to_owned()),
        ],
    );
}

#[test]
fn fuzzed_settings_that_do_not_parse_are_refused_and_left_byte_identical() {
    let w = World::new();
    let mut rng = Rng(seed());
    let settings = w.dir.path().join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let files = scaled(200, 2000);
    let mut refused = 0;
    while refused < files {
        let broken = if rng.next().is_multiple_of(2) {
            mangle(&mut rng, SETTINGS.as_bytes())
        } else {
            let cut = (rng.next() % SETTINGS.len() as u64) as usize;
            SETTINGS.as_bytes()[..cut].to_vec()
        };
        // Only what does not parse (a mangled file can still be valid JSON), and not the
        // empty file, which a missing one is taken for.
        let text = std::str::from_utf8(&broken).ok();
        if text.is_some_and(|t| {
            t.trim().is_empty() || serde_json::from_str::<serde_json::Value>(t).is_ok()
        }) {
            continue;
        }
        std::fs::write(&settings, &broken).unwrap();
        let out = w
            .cmd()
            .args(["hooks", "install", "--runtime", "claude"])
            .current_dir(w.dir.path())
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&broken).into_owned();
        assert_eq!(out.status.code(), Some(1), "{shown}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("settings.json"),
            "names the file: {shown}"
        );
        assert_eq!(std::fs::read(&settings).unwrap(), broken, "{shown}");
        refused += 1;
    }
    publish(
        "settings-fuzz",
        &[
            ("files", files.to_string()),
            ("refused", refused.to_string()),
            ("changed", "0".to_owned()),
        ],
    );
}
