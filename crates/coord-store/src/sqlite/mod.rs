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
//!
//! A lasting handle ([`Config::lasting`]: `coord serve`) makes many changes, so two things
//! change for it:
//! - It keeps the sessions it last wrote ([`recent`]), valid while no other connection
//!   commits (`PRAGMA data_version`, read at the start of every write transaction, tells): a
//!   heartbeat then reads no row and decodes no JSON.
//! - It leaves the log to the process: no commit of it copies the log back (SQLite's own
//!   checkpoint on commit is off); the process calls [`Store::checkpoint`] from a thread that
//!   does not write, so that no change waits for the disk syncs a checkpoint makes. The log
//!   grows longer between checkpoints (a checkpoint copies each page once however many frames
//!   of it the log holds), up to [`LASTING_WAL_CAP`], past which the next checkpoint starts it
//!   afresh; the file is reused rather than truncated. While a lasting process holds the store
//!   open, the log's index stays in shared memory, so no process reads the log to open the
//!   store. Brief handles see its shared lock on the `-lasting` file beside the store and
//!   leave the log to it. It leaves the log truncated when it closes.

mod claim;
mod files;
mod queue;
mod recent;
mod rows;
mod schema;

use files::{LASTING_SUFFIX, create, hold_presence, lasting_process_holds, sibling};
use queue::{BUSY, wait_when_busy};
use recent::Lasting;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coord_core::{
    Beat, Event, EventKind, ExitStatus, HostHeard, Notice, Registration, Session, Source, Task,
    Timestamp,
};
use rusqlite::config::DbConfig;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::{ClaimOutcome, ClaimRequest, Clock, Config, Result, Store, StoreError, TaskEvent};

/// The write-ahead log's size past which a writer truncates it (measured with
/// `bench/hook-cost`: smaller checkpoints too often, larger makes every open replay more).
const WAL_LIMIT: u64 = 256 * 1024;

/// The size of a lasting handle's log past which [`Store::checkpoint`] starts it afresh. A
/// checkpoint that only copies never does while changes keep coming (the log restarts only
/// once all of it is copied back, before the next commit), so without a bound a busy server's
/// log would grow for as long as it stays busy.
const LASTING_WAL_CAP: u64 = 64 * 1024 * 1024;

/// The size a lasting handle's log file is cut back to when SQLite starts it afresh.
const LASTING_WAL_SIZE: i64 = 16 * 1024 * 1024;

/// One session, its record and its pulse (`?1`: the namespace, `?2`: the id). Two lookups
/// rather than a join, which costs the hook path more to plan than to run.
const SESSION_BY_ID: &str = "SELECT record, (SELECT pulse FROM pulses WHERE ns = ?1 AND id = ?2) \
                             FROM sessions WHERE ns = ?1 AND id = ?2";

/// The embedded store.
pub struct SqliteStore {
    conn: Connection,
    ns: String,
    path: PathBuf,
    busy_timeout: Duration,
    clock: Clock,
    host_gap: Duration,
    /// How many events the namespace keeps ([`Config::event_keep`]); [`Store::tidy`] trims
    /// older ones.
    event_keep: i64,
    /// Whether a group's transaction is open ([`Store::grouped`]).
    grouping: Cell<bool>,
    /// Why the open group must not land: a change of it failed after writing.
    group_failure: RefCell<Option<String>>,
    /// The host row the open transaction last wrote, and the time it wrote: a group of
    /// heartbeats from one host within the same millisecond writes it once.
    host_written: RefCell<Option<(String, i64)>>,
    /// What only a lasting handle has.
    lasting: Option<Lasting>,
    /// The writers' queue in front of the write lock.
    queue: queue::Queue,
}

/// What a change read of the row it writes.
#[derive(Clone, Copy)]
enum Before<'a> {
    /// No row: the session is new.
    Nothing,
    /// The row holds this session.
    Was(&'a Session),
    /// A row whose record is written whole.
    Stored,
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
        // No commit copies the log back: a brief handle's `bound_wal` does, or a lasting
        // process's `checkpoint`.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let lasting = if config.lasting {
            conn.pragma_update(None, "journal_size_limit", LASTING_WAL_SIZE)?;
            Some(Lasting {
                recent: RefCell::default(),
                _presence: hold_presence(path)?,
            })
        } else {
            None
        };
        Ok(Self {
            conn,
            ns: config.namespace.clone(),
            path: path.to_owned(),
            busy_timeout: config.busy_timeout,
            clock: config.clock.clone(),
            host_gap: config.host_gap,
            event_keep: i64::try_from(config.event_keep).unwrap_or(i64::MAX),
            grouping: Cell::new(false),
            group_failure: RefCell::new(None),
            host_written: RefCell::new(None),
            lasting,
            queue: queue::Queue::new(path),
        })
    }

    /// The file this store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file beside the store named with `suffix` (`-wal`).
    fn sibling(&self, suffix: &str) -> PathBuf {
        sibling(&self.path, suffix)
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
        let turn = self.take_turn()?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        self.host_written.replace(None);
        let out = self
            .check_recent(&tx)
            .and_then(|()| f(&tx, self.now()?))
            .and_then(|out| Ok(tx.commit().map(|()| out)?));
        if out.is_err() {
            self.forget_recent();
        }
        let out = out?;
        // In turn still: a checkpoint that truncates the log holds SQLite's write lock, and
        // writers wait for it in the queue rather than poll for it.
        self.bound_wal();
        drop(turn);
        Ok(out)
    }

    /// Waits for this writer's turn in the queue ([`queue`]), then leaves what is left of the
    /// busy timeout to SQLite's own wait for its lock.
    fn take_turn(&self) -> Result<queue::Turn> {
        let start = Instant::now();
        let turn = self.queue.turn(self.busy_timeout)?;
        BUSY.set((self.busy_timeout.saturating_sub(start.elapsed()), None));
        Ok(turn)
    }

    /// Keeps the write-ahead log short. Every process that opens the store first replays the
    /// whole log (SQLite rebuilds its index when no other connection holds it), so a log that
    /// only grows makes every heartbeat slower. Once it passes [`WAL_LIMIT`], the brief writer
    /// that notices copies it into the database and truncates it, without waiting: if another
    /// connection is in the way, a later writer does it. While a lasting process holds the
    /// store, the log is its to keep.
    fn bound_wal(&self) {
        if self.lasting.is_some() {
            return;
        }
        if fs::metadata(self.sibling("-wal")).is_ok_and(|m| m.len() > WAL_LIMIT)
            && !lasting_process_holds(&self.sibling(LASTING_SUFFIX))
        {
            // No wait at all: the busy handler gives up at once.
            BUSY.set((Duration::ZERO, None));
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            BUSY.set((self.busy_timeout, None));
        }
    }

    fn load(&self, tx: &Connection, id: &str) -> Result<Option<Session>> {
        let mut stmt = tx.prepare_cached(SESSION_BY_ID)?;
        let mut rows = stmt.query(params![self.ns, id])?;
        rows.next()?.map(rows::session_from_row).transpose()
    }

    /// Writes `s` with its events over what the transaction read of its row (`before`): its
    /// pulse alone when nothing else moved, the whole record otherwise.
    fn save(
        &self,
        tx: &Connection,
        s: &Session,
        before: Before<'_>,
        events: &[EventKind],
        now: Timestamp,
    ) -> Result<()> {
        self.hear(tx, s)?;
        let (ns, id, pulse) = (&self.ns, &s.id, rows::pulse_json(s)?);
        let written = match before {
            Before::Was(old) if rows::only_pulse_moved(old, s) => match rows::seen_column(old, s) {
                Some(seen) => exec(
                    tx,
                    "UPDATE pulses SET pulse = ?3, last_seen = ?4 WHERE ns = ?1 AND id = ?2",
                    params![ns, id, pulse, seen],
                )?,
                None => exec(
                    tx,
                    "UPDATE pulses SET pulse = ?3 WHERE ns = ?1 AND id = ?2",
                    params![ns, id, pulse],
                )?,
            },
            Before::Was(_) | Before::Stored => exec(
                tx,
                "UPDATE sessions SET record = ?3 WHERE ns = ?1 AND id = ?2",
                params![ns, id, rows::session_json(s)?],
            )?
            .min(exec(
                tx,
                "UPDATE pulses SET pulse = ?3, last_seen = ?4 WHERE ns = ?1 AND id = ?2",
                params![ns, id, pulse, s.last_seen.as_millis()],
            )?),
            Before::Nothing => {
                exec(
                    tx,
                    "INSERT INTO sessions (ns, id, record) VALUES (?1, ?2, ?3)",
                    params![ns, id, rows::session_json(s)?],
                )?;
                exec(
                    tx,
                    "INSERT INTO pulses (ns, id, pulse, last_seen) VALUES (?1, ?2, ?3, ?4)",
                    params![ns, id, pulse, s.last_seen.as_millis()],
                )?
            }
        };
        if written != 1 {
            return Err(StoreError::Corrupt(format!(
                "session `{}` vanished inside the transaction that read it",
                s.id
            )));
        }
        self.log(tx, &s.id, s.incarnation, events, now)?;
        Ok(())
    }

    /// With `s` saved: its host was heard at its `last_seen`; if the host was silent longer
    /// than the host gap ([`Config::host_gap`]) until then, it is heard without a gap from
    /// then on, and otherwise that silence is its longest pause if none was longer.
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
        let gap = i64::try_from(self.host_gap.as_millis()).unwrap_or(i64::MAX);
        tx.prepare_cached(
            "INSERT INTO hosts (ns, host, last, since) VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (ns, host) DO UPDATE SET \
             since = CASE WHEN ?3 - last > ?4 THEN ?3 ELSE since END, \
             pause = CASE WHEN ?3 - last > ?4 THEN 0 ELSE MAX(pause, ?3 - last) END, \
             last = MAX(last, ?3)",
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
        if events.is_empty() {
            return Ok(());
        }
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

    fn select_events(&self, filter: &str, params: impl rusqlite::Params) -> Result<Vec<Event>> {
        let sql = format!("SELECT seq, event FROM events WHERE ns = ?1 {filter}");
        self.select(&sql, params, rows::event_from_row)
    }
}

impl Drop for SqliteStore {
    /// The last lasting handle to close leaves the log copied back and truncated, so that the
    /// next process to open the store alone does not read it all (without waiting: if another
    /// connection is in the way, the next writer past the limit does it). One that closes
    /// while another is open (a server's handle on another namespace) leaves it to that one.
    fn drop(&mut self) {
        if let Some(lasting) = self.lasting.take() {
            drop(lasting);
            if !lasting_process_holds(&self.sibling(LASTING_SUFFIX)) {
                BUSY.set((Duration::ZERO, None));
                let _ = self
                    .conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            }
        }
    }
}

/// Runs the statement `sql` (prepared once per connection) with `params`; the rows it changed.
fn exec(tx: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    Ok(tx.prepare_cached(sql)?.execute(params)?)
}

impl Store for SqliteStore {
    fn now(&self) -> Result<Timestamp> {
        Ok(self.clock.now())
    }

    fn register(&self, registration: &Registration) -> Result<Session> {
        self.write(|tx, now| {
            let previous = self.current(tx, &registration.id)?;
            let (session, events) = registration.apply(previous.as_ref(), now);
            let before = previous.as_ref().map_or(Before::Nothing, Before::Was);
            self.save(tx, &session, before, &events, now)?;
            self.remember_copy(&session);
            Ok(session)
        })
    }

    fn heartbeat(&self, id: &str, beat: &Beat) -> Result<Option<Session>> {
        self.write(|tx, now| {
            let Some(mut stored) = self.current(tx, id)? else {
                return Ok(None);
            };
            let mut s = stored.clone();
            let Some(events) = beat.apply(&mut s, now) else {
                return Ok(None);
            };
            self.save(tx, &s, Before::Was(&stored), &events, now)?;
            if self.lasting.is_some() {
                // The same change to the copy that was read, for the recent sessions to keep
                // without a second copy: `apply` depends on the session, the beat and the time
                // alone, so it comes out as `s`.
                beat.apply(&mut stored, now);
                debug_assert_eq!(stored, s);
                self.remember(stored);
            }
            Ok(Some(s))
        })
    }

    fn unregister(&self, id: &str, source: Source) -> Result<Option<Session>> {
        self.write(|tx, now| {
            let Some(mut s) = self.current(tx, id)? else {
                return Ok(None);
            };
            let events = s.end(source, now);
            self.save(tx, &s, Before::Stored, &events, now)?;
            self.remember_copy(&s);
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
            let Some(mut s) = self
                .current(tx, id)?
                .filter(|s| s.incarnation == incarnation)
            else {
                return Ok(false);
            };
            let events = s.exited(status, source, now);
            if events.is_empty() {
                return Ok(false);
            }
            self.save(tx, &s, Before::Stored, &events, now)?;
            self.remember(s);
            Ok(true)
        })
    }

    fn session(&self, id: &str) -> Result<Option<Session>> {
        self.load(&self.conn, id)
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        self.select(
            "SELECT s.record, p.pulse FROM sessions s JOIN pulses p USING (ns, id) \
             WHERE s.ns = ?1 ORDER BY s.id",
            params![self.ns],
            rows::session_from_row,
        )
    }

    /// The `last_seen` column trails each record's own by less than [`rows::SEEN_STEP`]: rows
    /// are read in its order, the `limit` longest silent by their records are kept, and the
    /// reading stops at the first row whose column is past the last one kept (no later row can
    /// be silent longer).
    fn quiet_since(&self, before: Timestamp, limit: usize) -> Result<Vec<Session>> {
        let mut kept: Vec<Session> = Vec::new();
        if limit == 0 {
            return Ok(kept);
        }
        let order = |a: &Session, b: &Session| (a.last_seen, &a.id).cmp(&(b.last_seen, &b.id));
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.record, p.pulse, p.last_seen FROM pulses p JOIN sessions s USING (ns, id) \
             WHERE p.ns = ?1 AND p.last_seen < ?2 ORDER BY p.last_seen",
        )?;
        let mut rows = stmt.query(params![self.ns, before.as_millis()])?;
        while let Some(row) = rows.next()? {
            let column = Timestamp::from_millis(row.get(2)?);
            if kept.len() == limit && kept.last().is_some_and(|last| column > last.last_seen) {
                break;
            }
            let s = rows::session_from_row(row)?;
            if s.last_seen < before {
                let at = kept.partition_point(|k| order(k, &s).is_lt());
                kept.insert(at, s);
                kept.truncate(limit);
            }
        }
        Ok(kept)
    }

    fn host_gap(&self) -> Result<Duration> {
        Ok(self.host_gap)
    }

    fn host_heard(&self, host: &str) -> Result<Option<HostHeard>> {
        self.conn
            .prepare_cached(
                "SELECT last, since, pause, notice FROM hosts WHERE ns = ?1 AND host = ?2",
            )?
            .query_row(params![self.ns, host], |r| rows::HostRow::read(r, 0))
            .optional()?
            .map(rows::HostRow::parse)
            .transpose()
    }

    fn hosts(&self) -> Result<BTreeMap<String, HostHeard>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT host, last, since, pause, notice FROM hosts WHERE ns = ?1")?;
        let rows = stmt.query_map(params![self.ns], |r| {
            Ok((r.get::<_, String>(0)?, rows::HostRow::read(r, 1)?))
        })?;
        let mut hosts = BTreeMap::new();
        for row in rows {
            let (host, heard) = row?;
            hosts.insert(host, heard.parse()?);
        }
        Ok(hosts)
    }

    fn note_host(
        &self,
        host: &str,
        expected: Option<Notice>,
        notice: Option<Notice>,
        event: &EventKind,
    ) -> Result<bool> {
        self.write(|tx, now| {
            let stored: Option<Option<String>> = tx
                .prepare_cached("SELECT notice FROM hosts WHERE ns = ?1 AND host = ?2")?
                .query_row(params![self.ns, host], |r| r.get(0))
                .optional()?;
            let current = stored
                .flatten()
                .map(|text| serde_json::from_str::<Notice>(&text))
                .transpose()?;
            if current != expected {
                return Ok(false);
            }
            let text = notice.map(|n| serde_json::to_string(&n)).transpose()?;
            let at = notice.map_or(now, |n| n.at).as_millis();
            exec(
                tx,
                "INSERT INTO hosts (ns, host, last, since, notice) VALUES (?1, ?2, ?3, ?3, ?4) \
                 ON CONFLICT (ns, host) DO UPDATE SET notice = ?4",
                params![self.ns, host, at, text],
            )?;
            self.host_written.replace(None);
            self.log(tx, host, 0, std::slice::from_ref(event), now)?;
            Ok(true)
        })
    }

    fn evict(&self, id: &str, revision: u64, reason: &str) -> Result<bool> {
        self.write(|tx, now| {
            let Some(s) = self.current(tx, id)?.filter(|s| s.revision == revision) else {
                return Ok(false);
            };
            for sql in [
                "DELETE FROM sessions WHERE ns = ?1 AND id = ?2",
                "DELETE FROM pulses WHERE ns = ?1 AND id = ?2",
            ] {
                exec(tx, sql, params![self.ns, id])?;
            }
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
        self.read_task(id)
    }

    fn tasks(&self) -> Result<Vec<Task>> {
        self.read_tasks("")
    }

    fn open_tasks(&self) -> Result<Vec<Task>> {
        self.read_tasks("AND finished IS NULL")
    }

    fn finished_tasks(&self, limit: usize) -> Result<Vec<Task>> {
        self.read_finished(limit)
    }

    fn retire_tasks(&self, before: Timestamp, limit: usize) -> Result<usize> {
        self.retire(before, limit)
    }

    fn put_task(&self, task: &Task, expected: Option<u64>, events: &[TaskEvent]) -> Result<bool> {
        self.swap_task(task, expected, events)
    }

    fn next_token(&self) -> Result<u64> {
        self.write(|tx, _| self.take_token(tx))
    }

    fn claim_task(&self, claim: &ClaimRequest) -> Result<ClaimOutcome> {
        self.claim(claim)
    }

    fn grouped(&self, work: &mut dyn FnMut()) -> Result<()> {
        /// Leaves the group however the work ends (a panic included), and forgets the recent
        /// sessions unless the group landed; the transaction, if not committed, rolls back
        /// when dropped.
        struct Leave<'a> {
            store: &'a SqliteStore,
            landed: bool,
        }
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.store.grouping.set(false);
                if !self.landed {
                    self.store.forget_recent();
                }
            }
        }
        if self.grouping.get() {
            work();
            return Ok(());
        }
        let turn = self.take_turn()?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut leave = Leave {
            store: self,
            landed: false,
        };
        self.group_failure.replace(None);
        self.host_written.replace(None);
        self.check_recent(&tx)?;
        self.grouping.set(true);
        work();
        self.grouping.set(false);
        if let Some(why) = self.group_failure.take() {
            // Dropping the transaction rolls it back.
            return Err(StoreError::GroupFailed(why));
        }
        tx.commit()?;
        leave.landed = true;
        drop(leave);
        self.bound_wal();
        drop(turn);
        Ok(())
    }

    fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        if fs::metadata(self.sibling("-wal")).is_ok_and(|m| m.len() > LASTING_WAL_CAP) {
            // Waits for the writer in between, within the busy timeout; a writer that holds on
            // longer leaves it to the next checkpoint.
            BUSY.set((self.busy_timeout, None));
            self.conn
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    fn tidy(&self) -> Result<()> {
        self.conn
            .prepare_cached(
                "DELETE FROM events WHERE ns = ?1 AND seq <= \
                 (SELECT MAX(seq) FROM events WHERE ns = ?1) - ?2",
            )?
            .execute(params![self.ns, self.event_keep])?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}
