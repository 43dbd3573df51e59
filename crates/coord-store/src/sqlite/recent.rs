//! What a lasting handle ([`crate::Config::lasting`]: `coord serve`'s writer) keeps between
//! its write transactions: the sessions and tasks it last read or wrote, trusted while the
//! store's data version says nobody else committed, so that a change starts from them instead
//! of reading and decoding its row.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;

use coord_core::{Session, Task};
use rusqlite::Connection;

use super::SqliteStore;
use crate::Result;

/// The most sessions a lasting handle keeps in memory (a kilobyte or so each); past it, it
/// starts afresh.
const RECENT_LIMIT: usize = 50_000;

/// What a lasting handle ([`Config::lasting`]) holds besides its connection.
pub(super) struct Lasting {
    /// The sessions it last wrote.
    pub(super) recent: RefCell<Recent>,
    /// A shared lock on the store's `-lasting` file, held while the handle is open: it tells
    /// brief handles that a lasting process keeps the log short.
    pub(super) _presence: File,
}

/// The sessions (and the tasks) a lasting handle read or wrote in its write transactions, as
/// stored, and the store's data version they were known at: while no other connection has
/// committed since (the version is the same at the start of the next write transaction), they
/// are what the rows hold, and a change starts from them instead of reading and decoding its
/// row (a task is read from them only inside a group, the one time reads run in a write
/// transaction). Forgotten whenever a transaction does not land.
#[derive(Default)]
pub(super) struct Recent {
    pub(super) version: Option<i64>,
    pub(super) sessions: HashMap<String, Session>,
    pub(super) tasks: HashMap<String, Task>,
}

impl Recent {
    /// Forgets everything.
    pub(super) fn clear(&mut self) {
        self.sessions.clear();
        self.tasks.clear();
    }

    /// Keeps `value` under `id` in `kept`, starting `kept` afresh past [`RECENT_LIMIT`].
    pub(super) fn keep<T>(kept: &mut HashMap<String, T>, id: &str, value: T) {
        if kept.len() >= RECENT_LIMIT && !kept.contains_key(id) {
            kept.clear();
        }
        kept.insert(id.to_owned(), value);
    }
}

impl SqliteStore {
    /// At the start of a write transaction: forgets the recent sessions if another connection
    /// has committed since they were known.
    pub(super) fn check_recent(&self, tx: &Connection) -> Result<()> {
        let Some(lasting) = &self.lasting else {
            return Ok(());
        };
        let version: i64 = tx
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        let mut recent = lasting.recent.borrow_mut();
        if recent.version != Some(version) {
            recent.clear();
            recent.version = Some(version);
        }
        Ok(())
    }

    /// Forgets the recent sessions: a transaction did not land.
    pub(super) fn forget_recent(&self) {
        if let Some(lasting) = &self.lasting {
            let mut recent = lasting.recent.borrow_mut();
            recent.clear();
            recent.version = None;
        }
    }

    /// Keeps `t`, as the open write transaction stored or read it, among the recent tasks.
    pub(super) fn remember_task(&self, t: &Task) {
        if let Some(lasting) = &self.lasting {
            Recent::keep(&mut lasting.recent.borrow_mut().tasks, &t.id, t.clone());
        }
    }

    /// Keeps `s`, as the open write transaction stored it, among the recent sessions (a
    /// lasting handle's; a brief one keeps none).
    pub(super) fn remember(&self, s: Session) {
        if let Some(lasting) = &self.lasting {
            let id = s.id.clone();
            Recent::keep(&mut lasting.recent.borrow_mut().sessions, &id, s);
        }
    }

    /// The same with a copy of `s`, made only by a lasting handle.
    pub(super) fn remember_copy(&self, s: &Session) {
        if self.lasting.is_some() {
            self.remember(s.clone());
        }
    }

    /// The stored session `id`, inside a write transaction: the recent one when known, taken
    /// out of the recent ones (a change saves it back; one that does not change it leaves it
    /// to be read again).
    pub(super) fn current(&self, tx: &Connection, id: &str) -> Result<Option<Session>> {
        if let Some(lasting) = &self.lasting
            && let Some(s) = lasting.recent.borrow_mut().sessions.remove(id)
        {
            return Ok(Some(s));
        }
        self.load(tx, id)
    }
}
