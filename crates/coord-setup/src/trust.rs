//! Codex's hook trust: which handler a `[hooks.state."<key>"]` entry vouches for, and the hash
//! it must hold.
//!
//! Codex runs a user hook only when `config.toml` holds, under the key
//! `<absolute path of hooks.json>:<event in snake_case>:<group index>:<handler index>`, a
//! `trusted_hash` equal to `sha256:<hex>` of the handler's normalized identity: the compact,
//! key-sorted JSON `{"event_name":…,"hooks":[{"async":…,"command":…,"timeout":…,"type":"command"}]}`
//! (with `"matcher"` and `"statusMessage"` only when set). The normalization follows what Codex
//! 0.169 was seen to hash (`shared/design/codex-observed.md`): a missing timeout is 600 s, at
//! least 1; `Interrupt` and `SessionEnd` timeouts are clamped to 1–3 s; the matcher does not count
//! for events that ignore it. Keys are positional, so a handler moved by an edit of the user's
//! array loses its trust: status recomputes every key and hash.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use toml_edit::{DocumentMut, Item, Table, value};

use crate::error::SetupError;

/// `PreToolUse` → `pre_tool_use`.
pub(crate) fn snake_case(event: &str) -> String {
    let mut out = String::with_capacity(event.len() + 4);
    for (i, c) in event.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The `hooks.state` key of the handler at `group`/`handler` of `event` in `hooks_json`.
pub(crate) fn key(hooks_json: &Path, event: &str, group: usize, handler: usize) -> String {
    format!(
        "{}:{}:{group}:{handler}",
        hooks_json.display(),
        snake_case(event)
    )
}

/// The hash Codex computes for a command handler (`fields`) of `event` in a group with `matcher`.
pub(crate) fn hash(event: &str, matcher: Option<&str>, fields: &Map<String, Value>) -> String {
    let event_name = snake_case(event);
    let timeout = fields.get("timeout").and_then(Value::as_u64);
    let timeout = match event_name.as_str() {
        "interrupt" | "session_end" => timeout.unwrap_or(1).clamp(1, 3),
        _ => timeout.unwrap_or(600).max(1),
    };
    let mut handler = Map::new();
    handler.insert(
        "async".into(),
        Value::Bool(
            fields
                .get("async")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
    );
    handler.insert(
        "command".into(),
        fields.get("command").cloned().unwrap_or(Value::Null),
    );
    if let Some(message) = fields.get("statusMessage").filter(|m| m.is_string()) {
        handler.insert("statusMessage".into(), message.clone());
    }
    handler.insert("timeout".into(), Value::from(timeout));
    handler.insert("type".into(), Value::from("command"));

    let mut identity = Map::new();
    identity.insert("event_name".into(), Value::String(event_name.clone()));
    identity.insert("hooks".into(), Value::Array(vec![Value::Object(handler)]));
    let matcher_counts = !matches!(
        event_name.as_str(),
        "user_prompt_submit" | "stop" | "interrupt"
    );
    if let Some(matcher) = matcher.filter(|_| matcher_counts) {
        identity.insert("matcher".into(), Value::from(matcher));
    }
    let digest = Sha256::digest(canonical_json(&Value::Object(identity)).as_bytes());
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for byte in &digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Compact JSON with every object's keys sorted, whatever order the map holds them in.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let fields: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), canonical_json(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// Every `trusted_hash` stored in `config.toml`, by key.
pub(crate) fn stored(doc: &DocumentMut) -> BTreeMap<String, String> {
    let Some(state) = doc
        .get("hooks")
        .and_then(|hooks| hooks.get("state"))
        .and_then(Item::as_table_like)
    else {
        return BTreeMap::new();
    };
    state
        .iter()
        .filter_map(|(key, entry)| {
            let hash = entry.get("trusted_hash")?.as_str()?;
            Some((key.to_owned(), hash.to_owned()))
        })
        .collect()
}

/// Writes `trusted_hash = hash` under `key`, keeping any other field of the entry. Returns whether
/// the document changed.
pub(crate) fn set(
    doc: &mut DocumentMut,
    path: &Path,
    key: &str,
    hash: &str,
) -> Result<bool, SetupError> {
    let hooks = sub_table(doc.as_table_mut(), "hooks", path, "hooks")?;
    let state = sub_table(hooks, "state", path, "hooks.state")?;
    let entry = state
        .entry(key)
        .or_insert_with(|| Item::Table(Table::new()));
    let Some(entry) = entry.as_table_like_mut() else {
        return Err(SetupError::Shape {
            path: path.to_owned(),
            key: format!("hooks.state.\"{key}\""),
            expected: "a table",
            found: entry.type_name(),
        });
    };
    if entry.get("trusted_hash").and_then(Item::as_str) == Some(hash) {
        return Ok(false);
    }
    entry.insert("trusted_hash", value(hash));
    Ok(true)
}

/// Removes the entry under `key`. Returns whether there was one.
pub(crate) fn remove(doc: &mut DocumentMut, key: &str) -> bool {
    doc.get_mut("hooks")
        .and_then(|hooks| hooks.get_mut("state"))
        .and_then(Item::as_table_like_mut)
        .is_some_and(|state| state.remove(key).is_some())
}

/// The table `name` of `parent`, created implicit (no header of its own) when missing.
fn sub_table<'a>(
    parent: &'a mut Table,
    name: &str,
    path: &Path,
    dotted: &str,
) -> Result<&'a mut Table, SetupError> {
    let item = parent.entry(name).or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let found = item.type_name();
    item.as_table_mut().ok_or_else(|| SetupError::Shape {
        path: path.to_owned(),
        key: dotted.to_owned(),
        expected: "a table",
        found,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn hash_matches_codex_stop_vector() {
        let handler =
            fields(json!({"type": "command", "command": "coord hook Stop", "timeout": 5}));
        assert_eq!(
            hash("Stop", None, &handler),
            "sha256:f49d8a7c9fee4285f23b314289073243b706936c3bb31d5be98ba31edce1a9f2"
        );
    }

    #[test]
    fn hash_matches_codex_async_matcher_vector() {
        let handler = fields(
            json!({"command": "coord hook PreToolUse", "timeout": 5, "type": "command", "async": true}),
        );
        assert_eq!(
            hash("PreToolUse", Some("*"), &handler),
            "sha256:e19ce5b26b20292ec497512db08405045dfa0b90559f4659a05a5ae417326698"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_and_is_compact() {
        let v = json!({"b": [1, {"z": null, "a": "x\"y"}], "a": true});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":true,"b":[1,{"a":"x\"y","z":null}]}"#
        );
    }

    #[test]
    fn normalization_follows_codex() {
        let bare = fields(json!({"command": "c"}));
        let explicit = fields(json!({"command": "c", "timeout": 600, "async": false}));
        assert_eq!(
            hash("PreToolUse", None, &bare),
            hash("PreToolUse", None, &explicit)
        );
        assert_eq!(
            hash("Stop", Some("*"), &bare),
            hash("Stop", None, &bare),
            "Stop ignores matchers"
        );
        assert_ne!(
            hash("PreToolUse", Some("*"), &bare),
            hash("PreToolUse", None, &bare)
        );
        let five = fields(json!({"command": "c", "timeout": 5}));
        let three = fields(json!({"command": "c", "timeout": 3}));
        assert_eq!(
            hash("Interrupt", None, &five),
            hash("Interrupt", None, &three)
        );
    }

    #[test]
    fn keys_name_file_event_and_position() {
        assert_eq!(
            key(Path::new("/h/.codex/hooks.json"), "UserPromptSubmit", 2, 0),
            "/h/.codex/hooks.json:user_prompt_submit:2:0"
        );
        assert_eq!(snake_case("SessionEnd"), "session_end");
        assert_eq!(snake_case("Stop"), "stop");
    }

    #[test]
    fn entries_are_written_read_and_removed() {
        let mut doc: DocumentMut = "model = \"m\"\n\n[hooks.state.\"other\"]\ntrusted_hash = \"sha256:1\"\nenabled = true\n"
            .parse()
            .unwrap();
        let path = Path::new("config.toml");
        assert!(set(&mut doc, path, "/a/hooks.json:stop:0:0", "sha256:2").unwrap());
        assert!(!set(&mut doc, path, "/a/hooks.json:stop:0:0", "sha256:2").unwrap());
        assert!(set(&mut doc, path, "other", "sha256:3").unwrap());
        let stored = stored(&doc);
        assert_eq!(stored["/a/hooks.json:stop:0:0"], "sha256:2");
        assert_eq!(stored["other"], "sha256:3");
        assert!(doc.to_string().contains("enabled = true"));
        assert!(remove(&mut doc, "/a/hooks.json:stop:0:0"));
        assert!(!remove(&mut doc, "/a/hooks.json:stop:0:0"));
        assert_eq!(
            doc.to_string(),
            "model = \"m\"\n\n[hooks.state.\"other\"]\ntrusted_hash = \"sha256:3\"\nenabled = true\n"
        );
    }

    #[test]
    fn a_hooks_value_that_is_not_a_table_is_refused() {
        let mut doc: DocumentMut = "hooks = 1\n".parse().unwrap();
        let err = set(&mut doc, Path::new("c"), "k", "h").unwrap_err();
        assert!(
            matches!(err, SetupError::Shape { ref key, .. } if key == "hooks"),
            "{err}"
        );
    }
}
