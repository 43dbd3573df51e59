//! Mapping between [`Session`] / [`Event`] and rows of the embedded store.
//!
//! Scalar fields are columns (so the file reads well in `sqlite3`, and the sweep can index
//! `last_seen`); structured ones (phase, process fact, labels, signals, policy) are JSON text.

use coord_core::{Event, Session, Timestamp};
use rusqlite::{Row, ToSql};

use crate::{Result, StoreError};

/// The columns of `sessions` after `ns`, in the order [`session_params`] and [`session_from_row`]
/// use.
pub const SESSION_COLUMNS: &str = "id, incarnation, revision, host, pid, pid_start, boot_id, \
     runtime, task, cwd, labels, registered_at, last_seen, last_activity, last_progress, phase, \
     phase_at, process, log_path, log_mtime, beats, progress, signals, policy";

/// `?2, ?3, …` for the session columns (`?1` is the namespace).
pub const SESSION_PLACEHOLDERS: &str = "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
     ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25";

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}

fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

/// The values of a session row, `ns` first.
pub fn session_params(ns: &str, s: &Session) -> Result<Vec<Box<dyn ToSql>>> {
    Ok(vec![
        Box::new(ns.to_owned()),
        Box::new(s.id.clone()),
        Box::new(s.incarnation),
        Box::new(s.revision),
        Box::new(s.host.clone()),
        Box::new(s.pid),
        Box::new(s.pid_start),
        Box::new(s.boot_id.clone()),
        Box::new(s.runtime.as_str()),
        Box::new(s.task.clone()),
        Box::new(s.cwd.clone()),
        Box::new(json(&s.labels)?),
        Box::new(s.registered_at.as_millis()),
        Box::new(s.last_seen.as_millis()),
        Box::new(ms(s.last_activity)),
        Box::new(ms(s.last_progress)),
        Box::new(json(&s.phase)?),
        Box::new(s.phase_at.as_millis()),
        Box::new(json(&s.process)?),
        Box::new(s.log_path.clone()),
        Box::new(ms(s.log_mtime)),
        Box::new(s.beats),
        Box::new(s.progress.as_ref().map(json).transpose()?),
        Box::new(json(&s.signals)?),
        Box::new(json(&s.policy)?),
    ])
}

/// Reads a session from a row selected with [`SESSION_COLUMNS`].
pub fn session_from_row(row: &Row<'_>) -> Result<Session> {
    let text = |i: usize| -> Result<String> { Ok(row.get(i)?) };
    let time = |i: usize| -> Result<Timestamp> { Ok(Timestamp::from_millis(row.get(i)?)) };
    let opt_time = |i: usize| -> Result<Option<Timestamp>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(Timestamp::from_millis))
    };
    let runtime = text(7)?;
    Ok(Session {
        id: text(0)?,
        incarnation: row.get(1)?,
        revision: row.get(2)?,
        host: text(3)?,
        pid: row.get(4)?,
        pid_start: row.get(5)?,
        boot_id: row.get(6)?,
        runtime: runtime
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        task: text(8)?,
        cwd: row.get(9)?,
        labels: parse(&text(10)?)?,
        registered_at: time(11)?,
        last_seen: time(12)?,
        last_activity: opt_time(13)?,
        last_progress: opt_time(14)?,
        phase: parse(&text(15)?)?,
        phase_at: time(16)?,
        process: parse(&text(17)?)?,
        log_path: row.get(18)?,
        log_mtime: opt_time(19)?,
        beats: row.get(20)?,
        progress: row
            .get::<_, Option<String>>(21)?
            .map(|p| parse(&p))
            .transpose()?,
        signals: parse(&text(22)?)?,
        policy: parse(&text(23)?)?,
    })
}

/// The columns of `events` read by [`event_from_row`].
pub const EVENT_COLUMNS: &str = "seq, at, session, incarnation, data";

/// Reads an event from a row selected with [`EVENT_COLUMNS`].
pub fn event_from_row(row: &Row<'_>) -> Result<Event> {
    Ok(Event {
        seq: row.get(0)?,
        at: Timestamp::from_millis(row.get(1)?),
        session: row.get(2)?,
        incarnation: row.get(3)?,
        kind: parse(&row.get::<_, String>(4)?)?,
    })
}
