//! How [`Session`] and [`Event`] records are laid out in the embedded store.
//!
//! A session is two rows: its record as JSON in `sessions`, and in the narrow `pulses` its
//! pulse as JSON (see [`Pulse`]) with the `last_seen` the sweep reads through an index. A
//! heartbeat that moves nothing but the pulse writes that row alone. A heartbeat process
//! parses its schema and statements on every start, so few columns are measurably cheaper on
//! the hook path. An event row is its JSON and its sequence number.
//!
//! The `last_seen` column is not the record's own: it trails it by less than [`SEEN_STEP`]. A
//! change that moves only the pulse moves the column only when the record's `last_seen` enters
//! a new step, so that most heartbeats leave the index alone; every other change writes it
//! exactly. Queries by it read it as a bound and decide by the record.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::{Event, EventKind, HostHeard, Notice, Session, Source, Task, Timestamp};
use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::{Result, StoreError};

/// How far the `last_seen` column may trail a record's own `last_seen`, in milliseconds.
pub const SEEN_STEP: i64 = 1000;

/// The fields of a session that a plain heartbeat moves, stored apart from the whole record: a
/// change that moves nothing else writes them alone (a hundred bytes, where the record is half
/// a kilobyte), and the record's own copies of them are then older than these, which readers
/// take instead. A store migrated from whole records has none until the session changes.
#[derive(Serialize, Deserialize)]
struct Pulse<'a> {
    revision: u64,
    beats: u64,
    last_seen: Timestamp,
    last_activity: Option<Timestamp>,
    last_progress: Option<Timestamp>,
    signals: Cow<'a, BTreeMap<Source, Timestamp>>,
}

/// The JSON of a session's pulse.
pub fn pulse_json(s: &Session) -> Result<String> {
    Ok(serde_json::to_string(&Pulse {
        revision: s.revision,
        beats: s.beats,
        last_seen: s.last_seen,
        last_activity: s.last_activity,
        last_progress: s.last_progress,
        signals: Cow::Borrowed(&s.signals),
    })?)
}

/// Whether `after` differs from `before` in its pulse alone, so that writing the pulse stores
/// it whole. Every field is named, so that a field added to [`Session`] must be placed here.
pub fn only_pulse_moved(before: &Session, after: &Session) -> bool {
    let Session {
        id,
        parent,
        incarnation,
        revision: _,
        host,
        pid,
        pid_start,
        boot_id,
        runtime,
        task,
        cwd,
        labels,
        registered_at,
        last_seen: _,
        last_activity: _,
        last_progress: _,
        phase,
        phase_at,
        process,
        log_path,
        log_mtime,
        beats: _,
        progress,
        signals: _,
        policy,
    } = before;
    *id == after.id
        && *parent == after.parent
        && *incarnation == after.incarnation
        && *host == after.host
        && *pid == after.pid
        && *pid_start == after.pid_start
        && *boot_id == after.boot_id
        && *runtime == after.runtime
        && *task == after.task
        && *cwd == after.cwd
        && *labels == after.labels
        && *registered_at == after.registered_at
        && *phase == after.phase
        && *phase_at == after.phase_at
        && *process == after.process
        && *log_path == after.log_path
        && *log_mtime == after.log_mtime
        && *progress == after.progress
        && *policy == after.policy
}

/// The JSON of a session record.
pub fn session_json(s: &Session) -> Result<String> {
    // A record is about half a kilobyte: room for it up front, rather than growing into it.
    let mut out = Vec::with_capacity(1024);
    serde_json::to_writer(&mut out, s)?;
    String::from_utf8(out).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads a session from a row whose first two columns are its record and its pulse (if any,
/// newer than the record's copy), in place.
pub fn session_from_row(row: &Row<'_>) -> Result<Session> {
    let text = |i: usize| {
        row.get_ref(i)?
            .as_str_or_null()
            .map_err(|e| StoreError::Corrupt(format!("a session record: {e}")))
    };
    let record =
        text(0)?.ok_or_else(|| StoreError::Corrupt("a session without a record".into()))?;
    let mut s: Session = serde_json::from_str(record)?;
    if let Some(pulse) = text(1)? {
        let pulse: Pulse<'_> = serde_json::from_str(pulse)?;
        s.revision = pulse.revision;
        s.beats = pulse.beats;
        s.last_seen = pulse.last_seen;
        s.last_activity = pulse.last_activity;
        s.last_progress = pulse.last_progress;
        s.signals = pulse.signals.into_owned();
    }
    Ok(s)
}

/// The `last_seen` column for `after`, written over `before`'s row by a change that moved only
/// the pulse: unchanged (`None`) while the record's `last_seen` stays in the step of
/// [`SEEN_STEP`] it was in.
pub fn seen_column(before: &Session, after: &Session) -> Option<i64> {
    let (was, is) = (before.last_seen.as_millis(), after.last_seen.as_millis());
    (was.div_euclid(SEEN_STEP) != is.div_euclid(SEEN_STEP)).then_some(is)
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

/// A host's row as read: its last signal, since when heard without a gap, its longest pause
/// since (ms) and its notice (JSON).
pub struct HostRow(i64, i64, i64, Option<String>);

impl HostRow {
    /// The four columns from `first` on.
    pub fn read(r: &Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Self(
            r.get(first)?,
            r.get(first + 1)?,
            r.get(first + 2)?,
            r.get(first + 3)?,
        ))
    }

    /// What the row says of the host.
    pub fn parse(self) -> Result<HostHeard> {
        let Self(last, since, pause, notice) = self;
        Ok(HostHeard {
            last: Timestamp::from_millis(last),
            since: Timestamp::from_millis(since),
            pause: Duration::from_millis(u64::try_from(pause).unwrap_or(0)),
            notice: notice
                .as_deref()
                .map(serde_json::from_str::<Notice>)
                .transpose()?,
        })
    }
}
