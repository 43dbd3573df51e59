//! How [`Session`] and [`Event`] records are laid out in the embedded store.
//!
//! A session row is the record as JSON plus the few columns that queries filter on (`host`,
//! `last_seen`, both indexed): a heartbeat process parses its schema and statements on every
//! start, so fewer columns are measurably cheaper on the hook path. An event row is its JSON
//! and its sequence number.

use coord_core::{Event, EventKind, Session, Task, Timestamp};
use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::{Result, StoreError};

/// The JSON of a session record.
pub fn session_json(s: &Session) -> Result<String> {
    // A record is about half a kilobyte: room for it up front, rather than growing into it.
    let mut out = Vec::with_capacity(1024);
    serde_json::to_writer(&mut out, s)?;
    String::from_utf8(out).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads a session from a row whose first column is its JSON, in place.
pub fn session_from_row(row: &Row<'_>) -> Result<Session> {
    let text = row
        .get_ref(0)?
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("a session record: {e}")))?;
    Ok(serde_json::from_str(text)?)
}

/// The JSON of a task record.
pub fn task_json(t: &Task) -> Result<String> {
    Ok(serde_json::to_string(t)?)
}

/// Reads a task from a row whose first column is its JSON.
pub fn task_from_row(row: &Row<'_>) -> Result<Task> {
    Ok(serde_json::from_str(&row.get::<_, String>(0)?)?)
}

/// What an event row stores beside its sequence number.
#[derive(Serialize, Deserialize)]
struct StoredEvent<'a> {
    at: Timestamp,
    incarnation: u64,
    #[serde(borrow)]
    session: std::borrow::Cow<'a, str>,
    #[serde(flatten)]
    kind: EventKind,
}

/// The JSON of an event row.
pub fn event_json(
    at: Timestamp,
    session: &str,
    incarnation: u64,
    kind: &EventKind,
) -> Result<String> {
    Ok(serde_json::to_string(&StoredEvent {
        at,
        incarnation,
        session: session.into(),
        kind: kind.clone(),
    })?)
}

/// Reads an event from a row of `seq, event`.
pub fn event_from_row(row: &Row<'_>) -> Result<Event> {
    let text: String = row.get(1)?;
    let stored: StoredEvent<'_> = serde_json::from_str(&text)?;
    Ok(Event {
        seq: row.get(0)?,
        at: stored.at,
        session: stored.session.into_owned(),
        incarnation: stored.incarnation,
        kind: stored.kind,
    })
}
