//! How [`Session`] and [`Event`] records are laid out in Redis, and what the scripts are sent.
//!
//! A session is a hash with one field per field of the record, each holding the JSON text serde
//! gives that field, except the signals map, kept as one `signal:<source>` field per source so
//! that a script records a signal with one `HSET`. Reading a record joins the fields back into
//! the JSON object serde reads, so a session read from Redis is exactly the one SQLite would
//! hold. An event is a stream entry whose fields are `session`, `incarnation`, `at` and `kind`
//! (the [`EventKind`] as JSON); its entry id `<seq>-1` carries its sequence number.

use coord_core::{Beat, BeatKind, Event, EventKind, Registration, Session, Timestamp};
use serde_json::{Map, Value};

use crate::{Renewal, Result, StoreError};

/// The prefix of the hash fields that hold the signals map.
const SIGNAL: &str = "signal:";

/// The fields of a new record that the registration script sets itself: from the server's
/// clock, or numbered after the previous incarnation.
const SET_BY_SCRIPT: [&str; 6] = [
    "incarnation",
    "revision",
    "registered_at",
    "last_seen",
    "phase_at",
    "signals",
];

/// What the registration script is sent after the id, the source and the restart flag: the
/// `registered` event (JSON, empty for none) and the record the core builds for a new
/// incarnation, as (field, JSON) pairs without the fields the script sets.
pub fn registration_args(registration: &Registration) -> Result<Vec<String>> {
    let (fresh, events) = registration.apply(None, Timestamp::default());
    let Value::Object(fields) = serde_json::to_value(&fresh)? else {
        return Err(StoreError::Corrupt(
            "a session does not serialize to a JSON object".to_owned(),
        ));
    };
    let mut args = vec![match events.first() {
        Some(event) => serde_json::to_string(event)?,
        None => String::new(),
    }];
    for (name, value) in fields {
        if !SET_BY_SCRIPT.contains(&name.as_str()) {
            args.push(name);
            args.push(value.to_string());
        }
    }
    Ok(args)
}

/// What the heartbeat script is sent after the id and the source: the kind, the observation
/// time, and the phase, progress and log time (each empty when the beat has none).
pub fn beat_args(beat: &Beat) -> Result<[String; 5]> {
    let kind = match beat.kind {
        BeatKind::Activity => "activity",
        BeatKind::Alive => "alive",
        BeatKind::Signal => "signal",
    };
    Ok([
        kind.to_owned(),
        beat.observed_at.as_millis().to_string(),
        beat.phase
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?
            .unwrap_or_default(),
        beat.progress
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?
            .unwrap_or_default(),
        beat.log_mtime
            .map(|t| t.as_millis().to_string())
            .unwrap_or_default(),
    ])
}

/// The renewal of session `id` from the heartbeat script's counters: its incarnation, revision
/// and beats.
pub fn renewal(id: &str, (incarnation, revision, beats): (u64, u64, u64)) -> Renewal {
    Renewal {
        id: id.to_owned(),
        incarnation,
        revision,
        beats,
    }
}

/// The session whose hash `HGETALL` gave as `fields` (name, value, name, value…); `None` for an
/// empty hash (no such session).
pub fn session_from_fields(fields: Vec<String>) -> Result<Option<Session>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut record = Map::new();
    let mut signals = Map::new();
    let mut fields = fields.into_iter();
    while let (Some(name), Some(text)) = (fields.next(), fields.next()) {
        let value: Value = serde_json::from_str(&text)?;
        match name.strip_prefix(SIGNAL) {
            Some(source) => signals.insert(source.to_owned(), value),
            None => record.insert(name, value),
        };
    }
    record.insert("signals".to_owned(), Value::Object(signals));
    Ok(Some(serde_json::from_value(Value::Object(record))?))
}

/// The event of the stream entry `id` whose fields are `fields` (name, value, name, value…).
pub fn event_from_entry(id: &str, fields: Vec<String>) -> Result<Event> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("event {id}: {why}"));
    let seq = id
        .strip_suffix("-1")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| corrupt("the entry id is not <seq>-1"))?;
    let (mut session, mut incarnation, mut at, mut kind) = (None, None, None, None);
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        match name.as_str() {
            "session" => session = Some(value),
            "incarnation" => incarnation = value.parse().ok(),
            "at" => at = value.parse().ok().map(Timestamp::from_millis),
            "kind" => kind = Some(serde_json::from_str::<EventKind>(&value)?),
            _ => {}
        }
    }
    Ok(Event {
        seq,
        at: at.ok_or_else(|| corrupt("no time"))?,
        session: session.ok_or_else(|| corrupt("no session"))?,
        incarnation: incarnation.ok_or_else(|| corrupt("no incarnation"))?,
        kind: kind.ok_or_else(|| corrupt("no kind"))?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use coord_core::{Phase, PolicyOverrides, Runtime, Source};

    use super::*;

    fn registration() -> Registration {
        Registration {
            id: "s1".to_owned(),
            parent: None,
            host: "h".to_owned(),
            pid: Some(42),
            pid_start: None,
            boot_id: Some("b".to_owned()),
            runtime: Runtime::Claude,
            task: "t".to_owned(),
            cwd: None,
            labels: BTreeMap::new(),
            log_path: None,
            policy: PolicyOverrides::default(),
            phase: Phase::Waiting,
            source: Source::Hook,
            restart: false,
        }
    }

    /// The fields a script would store for `s`, as `HGETALL` gives them back.
    fn as_hash(s: &Session) -> Vec<String> {
        let Value::Object(fields) = serde_json::to_value(s).unwrap() else {
            unreachable!()
        };
        let mut out = Vec::new();
        for (name, value) in fields {
            if let (Value::Object(signals), "signals") = (&value, name.as_str()) {
                for (source, at) in signals {
                    out.extend([format!("{SIGNAL}{source}"), at.to_string()]);
                }
            } else {
                out.extend([name, value.to_string()]);
            }
        }
        out
    }

    #[test]
    fn a_record_survives_the_hash_layout_exactly() {
        let (mut s, _) = registration().apply(None, Timestamp::from_millis(1_700_000_000_123));
        s.signals.insert(Source::Watch, Timestamp::from_millis(5));
        s.phase = Phase::InTool {
            tool: "Bash".to_owned(),
            since: Timestamp::from_millis(9),
        };
        s.progress = Some(serde_json::json!({"big": u64::MAX, "x": 0.1, "empty": [], "o": {}}));
        assert_eq!(session_from_fields(as_hash(&s)).unwrap(), Some(s));
        assert_eq!(session_from_fields(Vec::new()).unwrap(), None);
    }

    #[test]
    fn the_registration_leaves_the_clock_and_the_numbering_to_the_script() {
        let args = registration_args(&registration()).unwrap();
        let event: EventKind = serde_json::from_str(&args[0]).unwrap();
        assert_eq!(event.name(), "registered");
        let names: Vec<_> = args[1..].iter().step_by(2).map(String::as_str).collect();
        for set_here in SET_BY_SCRIPT {
            assert!(!names.contains(&set_here), "{set_here}");
        }
        assert!(names.contains(&"host") && names.contains(&"beats"));
    }

    #[test]
    fn events_read_back_from_their_entry() {
        let fields = [
            "session",
            "s1",
            "incarnation",
            "2",
            "at",
            "17",
            "kind",
            "{\"kind\":\"ended\"}",
        ]
        .map(str::to_owned)
        .to_vec();
        let event = event_from_entry("41-1", fields).unwrap();
        assert_eq!(
            (event.seq, event.incarnation, event.at.as_millis()),
            (41, 2, 17)
        );
        assert_eq!(event.kind, EventKind::Ended);
        assert!(event_from_entry("41-0", Vec::new()).is_err());
    }
}
