//! The embedded store: one SQLite file in WAL mode that many processes write at once.
//!
//! Each change is one `BEGIN IMMEDIATE` transaction that reads the record, applies the core's
//! rule for the signal ([`coord_core::signal`]) and writes the record and its events back, so
//! concurrent writers never lose an update. `synchronous=NORMAL` in WAL mode keeps every
//! committed write across a crash of the writer; a busy timeout bounds the wait for the lock.
//!
//! The hook path opens this store on every tool call of every agent, so opening is lean: no
//! schema work once migrated, and no WAL checkpoint when a connection closes
//! (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`, which would cost every process a checkpoint). The WAL
//! is kept short instead by whichever writer finds it past a limit (see `bound_wal`), and
//! flushed by [`Store::tidy`], which the longer-running commands call.

mod rows;
mod schema;

use std::cell::{Cell, RefCell};
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coord_core::{
    Beat, Event, EventKind, ExitStatus, HOST_GAP, HostHeard, Registration, Session, Source, Task,
    Timestamp,
};
use rusqlite::config::DbConfig;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::{Clock, Config, Result, Store, StoreError, TaskEvent};

/// The write-ahead log's size past which a writer truncates it (measured with
/// `bench/hook-cost`: smaller checkpoints too often, larger makes every open replay more).
const WAL_LIMIT: u64 = 256 * 1024;

/// How many events a namespace keeps; [`Store::tidy`] trims older ones.
const EVENT_RETENTION: i64 = 100_000;

/// The embedded store.
pub struct SqliteStore {
    conn: Connection,
    ns: String,
    path: PathBuf,
    busy_timeout: Duration,
    clock: Clock,
    /// Whether a group's transaction is open ([`Store::grouped`]).
    grouping: Cell<bool>,
    /// Why the open group must not land: a change of it failed after writing.
    group_failure: RefCell<Option<String>>,
    /// The host row the open transaction last wrote, and the time it wrote: a group of
    /// heartbeats from one host within the same millisecond writes it once.
    host_written: RefCell<Option<(String, i64)>>,
}

impl SqliteStore {
    /// Opens (creating and migrating when needed) the store at `path`.
    ///
    /// A missing file is created with mode 0600 in a directory created with mode 0700.
    pub fn open(path: &Path, config: &Config) -> Result<Self> {
        if !path.exists() {
            create(path)?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)?;
        wait_when_busy(&mut conn, config.busy_timeout)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        conn.pragma_update(None, "synchronous", "normal")?;
        schema::migrate(&conn)?;
        Ok(Self {
            conn,
            ns: config.namespace.clone(),
            path: path.to_owned(),
            busy_timeout: config.busy_timeout,
            clock: config.clock.clone(),
            grouping: Cell::new(false),
            group_failure: RefCell::new(None),
            host_written: RefCell::new(None),
        })
    }

    /// The file this store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`): it sees and changes a
    /// consistent store, and nothing of it lands unless all of it does. Inside a group
    /// ([`Store::grouped`]) it runs in the group's transaction instead; should it fail after
    /// writing, the whole group is rolled back, so that no change lands in part. (A savepoint
    /// per change would undo just that change, but copies every page it touches first: it
    /// cost a batch of heartbeats a quarter of its time, for a failure that is the disk's or a
    /// bug's, where the rest of the group is not worth saving.)
    fn write<T>(&self, f: impl FnOnce(&Connection, Timestamp) -> Result<T>) -> Result<T> {
        if self.grouping.get() {
            if let Some(why) = self.group_failure.borrow().as_ref() {
                return Err(StoreError::GroupFailed(why.clone()));
            }
            let before = self.conn.total_changes();
            let out = f(&self.conn, self.now()?);
            if let Err(e) = &out
                && self.conn.total_changes() != before
            {
                self.group_failure.replace(Some(e.to_string()));
            }
            return out;
        }
        BUSY.set((self.busy_timeout, None));
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        self.host_written.replace(None);
        let out = f(&tx, self.now()?)?;
        tx.commit()?;
        self.bound_wal();
        Ok(out)
    }

    /// Keeps the write-ahead log short. Every process that opens the store first replays the
    /// whole log (SQLite rebuilds its index when no other connection holds it), so a log that
    /// only grows makes every heartbeat slower. Once it passes [`WAL_LIMIT`], the writer that
    /// notices copies it into the database and truncates it, without waiting: if another
    /// connection is in the way, a later writer does it.
    fn bound_wal(&self) {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        if fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT) {
            // No wait at all: the busy handler gives up at once.
            BUSY.set((Duration::ZERO, None));
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            BUSY.set((self.busy_timeout, None));
        }
    }

    fn load(&self, tx: &Connection, id: &str) -> Result<Option<Session>> {
        let mut stmt =
            tx.prepare_cached("SELECT record FROM sessions WHERE ns = ?1 AND id = ?2")?;
        let mut rows = stmt.query(params![self.ns, id])?;
        rows.next()?.map(rows::session_from_row).transpose()
    }

    fn save(
        &self,
        tx: &Connection,
        s: &Session,
        events: &[EventKind],
        now: Timestamp,
    ) -> Result<()> {
        self.hear(tx, s)?;
        tx.prepare_cached(
            "INSERT INTO sessions (ns, id, host, last_seen, record) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (ns, id) DO UPDATE SET \
             host = excluded.host, last_seen = excluded.last_seen, record = excluded.record",
        )?
        .execute(params![
            self.ns,
            s.id,
            s.host,
            s.last_seen.as_millis(),
            rows::session_json(s)?
        ])?;
        self.log(tx, &s.id, s.incarnation, events, now)
    }

    /// With `s` saved: its host was heard at its `last_seen`; if the host was silent longer
    /// than [`HOST_GAP`] until then, it is heard without a gap from then on.
    fn hear(&self, tx: &Connection, s: &Session) -> Result<()> {
        let at = s.last_seen.as_millis();
        if self
            .host_written
            .borrow()
            .as_ref()
            .is_some_and(|(host, written)| *host == s.host && *written >= at)
        {
            return Ok(());
        }
        let gap = i64::try_from(HOST_GAP.as_millis()).unwrap_or(i64::MAX);
        tx.prepare_cached(
            "INSERT INTO hosts (ns, host, last, since) VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (ns, host) DO UPDATE SET \
             since = CASE WHEN ?3 - last > ?4 THEN ?3 ELSE since END, last = MAX(last, ?3)",
        )?
        .execute(params![self.ns, s.host, at, gap])?;
        self.host_written.replace(Some((s.host.clone(), at)));
        Ok(())
    }

    fn log(
        &self,
        tx: &Connection,
        id: &str,
        incarnation: u64,
        events: &[EventKind],
        now: Timestamp,
    ) -> Result<()> {
        let mut stmt =
            tx.prepare_cached("INSERT INTO events (ns, session, event) VALUES (?1, ?2, ?3)")?;
        for e in events {
            stmt.execute(params![
                self.ns,
                id,
                rows::event_json(now, id, incarnation, e)?
            ])?;
        }
        Ok(())
    }

    /// Runs a query of this namespace's rows and reads each with `read`.
    fn select<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        read: fn(&rusqlite::Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read(row)?);
        }
        Ok(out)
    }

    fn select_sessions(&self, filter: &str, params: impl rusqlite::Params) -> Result<Vec<Session>> {
        let sql = format!("SELECT record FROM sessions WHERE ns = ?1 {filter}");
        self.select(&sql, params, rows::session_from_row)
    }

    fn select_events(&self, filter: &str, params: impl rusqlite::Params) -> Result<Vec<Event>> {
        let sql = format!("SELECT seq, event FROM events WHERE ns = ?1 {filter}");
        self.select(&sql, params, rows::event_from_row)
    }
}

thread_local! {
    /// The wait for the write lock of this thread's current change: how long it may last, and
    /// when it began.
    static BUSY: Cell<(Duration, Option<Instant>)> = const { Cell::new((Duration::ZERO, None)) };
}

/// Makes `conn` wait up to `timeout` for a lock another writer holds, looking again every
/// millisecond or few. SQLite's own busy handler sleeps longer and longer (up to 100 ms between
/// looks), so under many writers a waiter that has waited long is overtaken by newcomers and
/// starves past its timeout; short, bounded sleeps keep the wait close to first come, first
/// served (measured by the 200-writer load test in `tests/reliability_load.rs`).
fn wait_when_busy(conn: &mut Connection, timeout: Duration) -> rusqlite::Result<()> {
    BUSY.set((timeout, None));
    conn.busy_handler(Some(busy))
}

/// SQLite's busy handler: true to try again after a short sleep, false to give up.
fn busy(attempt: i32) -> bool {
    let (limit, began) = BUSY.get();
    let now = Instant::now();
    let began = match began {
        Some(t) if attempt > 0 => t,
        _ => now,
    };
    BUSY.set((limit, Some(began)));
    if now.duration_since(began) >= limit {
        return false;
    }
    let step = u64::try_from(attempt).unwrap_or(0).min(8);
    std::thread::sleep(Duration::from_micros(500 + 500 * step));
    true
}

/// How many stores this process began to make: it names their temporary files.
static STORES_MADE: AtomicU64 = AtomicU64::new(0);

/// Creates a new store at `path`, complete (schema, WAL mode) before anyone can open it: it is
/// built under a temporary name and linked into place, so processes that start at the same
/// moment on a new machine (two hooks of one agent) never see a half-made store; the one that
/// links second drops its copy.
fn create(path: &Path) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    let n = STORES_MADE.fetch_add(1, Ordering::Relaxed);
    tmp.push(format!(".new-{}-{n}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    create_private_file(&tmp)?;
    let built = Connection::open_with_flags(
        &tmp,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from)
    .and_then(|conn| schema::migrate(&conn).map(|()| conn))
    .and_then(|conn| conn.close().map_err(|(_, e)| e.into()));
    let linked = built.and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    });
    let _ = fs::remove_file(&tmp);
    linked
}

fn create_private_file(path: &Path) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}

impl Store for SqliteStore {
    fn now(&self) -> Result<Timestamp> {
        Ok(self.clock.now())
    }

    fn register(&self, registration: &Registration) -> Result<Session> {
        self.write(|tx, now| {
            let previous = self.load(tx, &registration.id)?;
            let (session, events) = registration.apply(previous.as_ref(), now);
            self.save(tx, &session, &events, now)?;
            Ok(session)
        })
    }

    fn heartbeat(&self, id: &str, beat: &Beat) -> Result<Option<Session>> {
        self.write(|tx, now| {
            let Some(mut s) = self.load(tx, id)? else {
                return Ok(None);
            };
            let Some(events) = beat.apply(&mut s, now) else {
                return Ok(None);
            };
            self.save(tx, &s, &events, now)?;
            Ok(Some(s))
        })
    }

    fn unregister(&self, id: &str, source: Source) -> Result<Option<Session>> {
        self.write(|tx, now| {
            let Some(mut s) = self.load(tx, id)? else {
                return Ok(None);
            };
            let events = s.end(source, now);
            self.save(tx, &s, &events, now)?;
            Ok(Some(s))
        })
    }

    fn record_exit(
        &self,
        id: &str,
        incarnation: u64,
        status: ExitStatus,
        source: Source,
    ) -> Result<bool> {
        self.write(|tx, now| {
            let Some(mut s) = self.load(tx, id)?.filter(|s| s.incarnation == incarnation) else {
                return Ok(false);
            };
            let events = s.exited(status, source, now);
            if events.is_empty() {
                return Ok(false);
            }
            self.save(tx, &s, &events, now)?;
            Ok(true)
        })
    }

    fn session(&self, id: &str) -> Result<Option<Session>> {
        self.load(&self.conn, id)
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        self.select_sessions("ORDER BY id", params![self.ns])
    }

    fn quiet_since(&self, before: Timestamp, limit: usize) -> Result<Vec<Session>> {
        self.select_sessions(
            "AND last_seen < ?2 ORDER BY last_seen LIMIT ?3",
            params![self.ns, before.as_millis(), limit as i64],
        )
    }

    fn host_heard(&self, host: &str) -> Result<Option<HostHeard>> {
        Ok(self
            .conn
            .prepare_cached("SELECT last, since FROM hosts WHERE ns = ?1 AND host = ?2")?
            .query_row(params![self.ns, host], |r| {
                Ok(HostHeard {
                    last: Timestamp::from_millis(r.get(0)?),
                    since: Timestamp::from_millis(r.get(1)?),
                })
            })
            .optional()?)
    }

    fn evict(&self, id: &str, revision: u64, reason: &str) -> Result<bool> {
        self.write(|tx, now| {
            let Some(s) = self.load(tx, id)?.filter(|s| s.revision == revision) else {
                return Ok(false);
            };
            tx.prepare_cached("DELETE FROM sessions WHERE ns = ?1 AND id = ?2")?
                .execute(params![self.ns, id])?;
            let event = EventKind::Evicted {
                reason: reason.to_owned(),
            };
            self.log(tx, id, s.incarnation, &[event], now)?;
            Ok(true)
        })
    }

    fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        self.select_events(
            "AND seq > ?2 ORDER BY seq LIMIT ?3",
            params![self.ns, after, limit as i64],
        )
    }

    fn session_events(&self, id: &str, limit: usize) -> Result<Vec<Event>> {
        let mut events = self.select_events(
            "AND session = ?2 ORDER BY seq DESC LIMIT ?3",
            params![self.ns, id, limit as i64],
        )?;
        events.reverse();
        Ok(events)
    }

    fn task(&self, id: &str) -> Result<Option<Task>> {
        let mut tasks = self.select(
            "SELECT record FROM tasks WHERE ns = ?1 AND id = ?2",
            params![self.ns, id],
            rows::task_from_row,
        )?;
        Ok(tasks.pop())
    }

    fn tasks(&self) -> Result<Vec<Task>> {
        self.select(
            "SELECT record FROM tasks WHERE ns = ?1 ORDER BY created, id",
            params![self.ns],
            rows::task_from_row,
        )
    }

    fn put_task(&self, task: &Task, expected: Option<u64>, events: &[TaskEvent]) -> Result<bool> {
        self.write(|tx, now| {
            let stored: Option<u64> = tx
                .prepare_cached("SELECT revision FROM tasks WHERE ns = ?1 AND id = ?2")?
                .query_row(params![self.ns, task.id], |r| r.get(0))
                .optional()?;
            if stored != expected {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tasks (ns, id, created, revision, record) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                self.ns,
                task.id,
                task.created_at.as_millis(),
                task.revision,
                rows::task_json(task)?
            ])?;
            for e in events {
                self.log(
                    tx,
                    &e.session,
                    e.incarnation,
                    std::slice::from_ref(&e.kind),
                    now,
                )?;
            }
            Ok(true)
        })
    }

    fn next_token(&self) -> Result<u64> {
        self.write(|tx, _| {
            Ok(tx
                .prepare_cached(
                    "INSERT INTO tokens (ns, last) VALUES (?1, 1) \
                     ON CONFLICT (ns) DO UPDATE SET last = last + 1 RETURNING last",
                )?
                .query_row(params![self.ns], |r| r.get(0))?)
        })
    }

    fn grouped(&self, work: &mut dyn FnMut()) -> Result<()> {
        /// Leaves the group however the work ends (a panic included); the transaction, if not
        /// committed, rolls back when dropped.
        struct Leave<'a>(&'a Cell<bool>);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        if self.grouping.get() {
            work();
            return Ok(());
        }
        BUSY.set((self.busy_timeout, None));
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        self.group_failure.replace(None);
        self.host_written.replace(None);
        self.grouping.set(true);
        let leave = Leave(&self.grouping);
        work();
        drop(leave);
        if let Some(why) = self.group_failure.take() {
            // Dropping the transaction rolls it back.
            return Err(StoreError::GroupFailed(why));
        }
        tx.commit()?;
        self.bound_wal();
        Ok(())
    }

    fn tidy(&self) -> Result<()> {
        self.conn
            .prepare_cached(
                "DELETE FROM events WHERE ns = ?1 AND seq <= \
                 (SELECT MAX(seq) FROM events WHERE ns = ?1) - ?2",
            )?
            .execute(params![self.ns, EVENT_RETENTION])?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}
