//! The JSON shapes coord shows to scripts, in one place so that every adapter prints the same
//! document: the CLI's `--json` output and the server's `session.*`, `task.*`, `events.*` and
//! `host.*` results. Field names are stable and every time is given twice: RFC 3339 in `<name>` and
//! epoch milliseconds in `<name>_ms`.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use coord_core::{Event, Phase, ProcessFact, Task, Timestamp};

use crate::Entry;
use crate::hosts::HostEntry;

/// RFC 3339 in UTC with milliseconds.
#[must_use]
pub fn rfc3339(t: Timestamp) -> String {
    let since_epoch = Duration::from_millis(t.as_millis().max(0) as u64);
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + since_epoch).to_string()
}

/// Adds `name` (RFC 3339) and `name_ms` (epoch ms) to `map`; null for no time.
fn put_time(map: &mut Map<String, Value>, name: &str, t: Option<Timestamp>) {
    map.insert(
        name.to_owned(),
        t.map_or(Value::Null, |t| rfc3339(t).into()),
    );
    map.insert(
        format!("{name}_ms"),
        t.map_or(Value::Null, |t| t.as_millis().into()),
    );
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// One session with its verdict.
#[must_use]
pub fn entry(e: &Entry) -> Value {
    let s = &e.session;
    let v = &e.verdict;
    let mut m = Map::new();
    m.insert("id".into(), s.id.clone().into());
    m.insert("incarnation".into(), s.incarnation.into());
    m.insert("state".into(), v.state.as_str().into());
    m.insert("reason".into(), v.reason.clone().into());
    m.insert("rule".into(), to_value(&v.rule));
    put_time(&mut m, "state_since", Some(v.since));
    m.insert("runtime".into(), s.runtime.as_str().into());
    m.insert("task".into(), s.task.clone().into());
    m.insert("host".into(), s.host.clone().into());
    m.insert("pid".into(), to_value(&s.pid));
    m.insert("pid_start".into(), to_value(&s.pid_start));
    m.insert("boot_id".into(), to_value(&s.boot_id));
    m.insert("cwd".into(), to_value(&s.cwd));
    m.insert("labels".into(), to_value(&s.labels));
    m.insert("attach".into(), to_value(&crate::attach::command(s)));
    m.insert("phase".into(), s.phase.name().into());
    if let Phase::InTool { tool, since } = &s.phase {
        m.insert("tool".into(), tool.clone().into());
        put_time(&mut m, "tool_since", Some(*since));
    }
    put_time(&mut m, "phase_at", Some(s.phase_at));
    m.insert("process".into(), process(s.process));
    put_time(&mut m, "registered_at", Some(s.registered_at));
    put_time(&mut m, "last_seen", Some(s.last_seen));
    put_time(&mut m, "last_activity", s.last_activity);
    put_time(&mut m, "last_progress", s.last_progress);
    m.insert("log_path".into(), to_value(&s.log_path));
    put_time(&mut m, "log_mtime", s.log_mtime);
    m.insert("beats".into(), s.beats.into());
    m.insert("progress".into(), s.progress.clone().unwrap_or(Value::Null));
    let signals: Map<String, Value> = s
        .signals
        .iter()
        .map(|(src, t)| {
            let mut one = Map::new();
            put_time(&mut one, "at", Some(*t));
            (src.as_str().to_owned(), Value::Object(one))
        })
        .collect();
    m.insert("signals".into(), Value::Object(signals));
    m.insert("policy".into(), to_value(&s.policy));
    m.insert("claims".into(), to_value(&e.claims));
    m.insert("leader".into(), e.leads.into());
    Value::Object(m)
}

fn process(p: ProcessFact) -> Value {
    let mut m = Map::new();
    match p {
        ProcessFact::Unknown => {
            m.insert("state".into(), "unknown".into());
        }
        ProcessFact::Alive { checked_at } => {
            m.insert("state".into(), "alive".into());
            put_time(&mut m, "checked_at", Some(checked_at));
        }
        ProcessFact::Exited { status, at } => {
            m.insert("state".into(), "exited".into());
            m.insert("status".into(), to_value(&status));
            put_time(&mut m, "at", Some(at));
        }
    }
    Value::Object(m)
}

/// One event.
#[must_use]
pub fn event(e: &Event) -> Value {
    let mut m = match to_value(&e.kind) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("seq".into(), e.seq.into());
    put_time(&mut m, "at", Some(e.at));
    m.insert("session".into(), e.session.clone().into());
    m.insert("incarnation".into(), e.incarnation.into());
    Value::Object(m)
}

/// One task as stored, with its creation and last change also in RFC 3339 (`created`,
/// `updated`).
#[must_use]
pub fn task(t: &Task) -> Value {
    let mut v = to_value(t);
    if let Some(m) = v.as_object_mut() {
        m.insert("created".into(), rfc3339(t.created_at).into());
        m.insert("updated".into(), rfc3339(t.updated_at).into());
    }
    v
}

/// One host with its state and its sessions.
#[must_use]
pub fn host(h: &HostEntry) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), h.name.clone().into());
    m.insert("state".into(), h.verdict.state.as_str().into());
    m.insert("reason".into(), h.verdict.reason.clone().into());
    put_time(&mut m, "last_heard", Some(h.heard.last));
    put_time(&mut m, "heard_since", Some(h.heard.since));
    put_time(&mut m, "state_since", Some(h.verdict.since));
    m.insert(
        "notice".into(),
        h.heard.notice.map_or(Value::Null, |n| {
            let mut said = Map::new();
            said.insert("kind".into(), n.kind.as_str().into());
            put_time(&mut said, "at", Some(n.at));
            Value::Object(said)
        }),
    );
    m.insert("witnesses".into(), to_value(&h.verdict.witnesses));
    m.insert("sessions".into(), to_value(&h.sessions));
    Value::Object(m)
}

/// A document: `now` and `now_ms` first, then `fields`.
#[must_use]
pub fn document(now: Timestamp, fields: Value) -> Value {
    let mut m = Map::new();
    put_time(&mut m, "now", Some(now));
    if let Value::Object(rest) = fields {
        m.extend(rest);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_given_in_rfc3339_and_epoch_ms() {
        let t = Timestamp::from_millis(1_764_064_800_123);
        assert_eq!(rfc3339(t), "2025-11-25T10:00:00.123Z");
        let doc = document(t, serde_json::json!({ "x": 1 }));
        assert_eq!(doc["now"], "2025-11-25T10:00:00.123Z");
        assert_eq!(doc["now_ms"], 1_764_064_800_123_i64);
        assert_eq!(doc["x"], 1);
    }
}
