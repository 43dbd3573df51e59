//! The embedded store's schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! Each entry of [`MIGRATIONS`] moves the schema one version up; a store is migrated inside one
//! `BEGIN IMMEDIATE` transaction, so concurrent first opens do the work once. Never edit a
//! shipped migration: add the next one.

use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

/// The migrations, in order; the schema version is their count.
const MIGRATIONS: &[&str] = &[
    // 1: sessions keyed by namespace and id, the record itself as JSON beside the two columns
    //    the sweep and "host heard" read through an index; the event log.
    "CREATE TABLE sessions (
        ns        TEXT    NOT NULL,
        id        TEXT    NOT NULL,
        host      TEXT    NOT NULL,
        last_seen INTEGER NOT NULL,
        record    TEXT    NOT NULL,
        PRIMARY KEY (ns, id)
    ) WITHOUT ROWID;
    CREATE INDEX sessions_by_last_seen ON sessions (ns, last_seen);
    CREATE INDEX sessions_by_host ON sessions (ns, host, last_seen);
    CREATE TABLE events (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        ns      TEXT    NOT NULL,
        session TEXT    NOT NULL,
        event   TEXT    NOT NULL
    );
    CREATE INDEX events_by_session ON events (ns, session, seq);",
    // 2: tasks (the record as JSON, its revision for compare-and-set) and the fencing-token
    //    counter of each namespace.
    "CREATE TABLE tasks (
        ns       TEXT    NOT NULL,
        id       TEXT    NOT NULL,
        created  INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        record   TEXT    NOT NULL,
        PRIMARY KEY (ns, id)
    ) WITHOUT ROWID;
    CREATE INDEX tasks_by_age ON tasks (ns, created, id);
    CREATE TABLE tokens (
        ns   TEXT    NOT NULL PRIMARY KEY,
        last INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 3: each host's last signal, and since when it has been heard without a gap
    //    (coord_core::HOST_GAP), in a row of its own: written in place on every change, where
    //    the index it replaces moved an entry per heartbeat. Tasks are listed by age with a
    //    sort of the namespace's tasks rather than an index every process parses and every
    //    task change writes.
    "CREATE TABLE hosts (
        ns    TEXT    NOT NULL,
        host  TEXT    NOT NULL,
        last  INTEGER NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (ns, host)
    ) WITHOUT ROWID;
    INSERT INTO hosts (ns, host, last, since)
        SELECT ns, host, MAX(last_seen), 0 FROM sessions GROUP BY ns, host;
    DROP INDEX sessions_by_host;
    DROP INDEX tasks_by_age;",
    // 4: each session's pulse (the fields a heartbeat moves, newer than the record's copy when
    //    set) in a narrow table of its own, with the `last_seen` the sweep reads, which trails
    //    the record's (see rows.rs): most heartbeats write a few dozen bytes there, where they
    //    rewrote half a kilobyte and moved an index entry. The host column, read by nothing
    //    since 3, goes.
    "CREATE TABLE pulses (
        ns        TEXT    NOT NULL,
        id        TEXT    NOT NULL,
        last_seen INTEGER NOT NULL,
        pulse     TEXT,
        PRIMARY KEY (ns, id)
    ) WITHOUT ROWID;
    INSERT INTO pulses (ns, id, last_seen) SELECT ns, id, last_seen FROM sessions;
    CREATE INDEX pulses_by_last_seen ON pulses (ns, last_seen);
    DROP INDEX sessions_by_last_seen;
    ALTER TABLE sessions DROP COLUMN last_seen;
    ALTER TABLE sessions DROP COLUMN host;",
    // 5: what is said of a host (it sleeps, it shuts down, the sweep found it lost), JSON of
    //    coord_core::Notice, kept with the host until replaced.
    "ALTER TABLE hosts ADD COLUMN notice TEXT;",
    // 6: whether a task waits in the queue (coord_core::Task::waits), and a partial index of
    //    the waiting tasks by age: a claim of the next task reads those, oldest first, however
    //    many finished tasks the namespace keeps.
    "ALTER TABLE tasks ADD COLUMN waits INTEGER NOT NULL DEFAULT 0;
    UPDATE tasks SET waits = 1
        WHERE json_extract(record, '$.state') = 'pending' AND id NOT LIKE 'coord:%';
    CREATE INDEX tasks_waiting ON tasks (ns, created, id) WHERE waits;",
    // 7: each host's longest silence (ms) since it has been heard without a gap: a host
    //    frozen for less than the gap looked heard all along, and a session's silence counts
    //    only beyond it.
    "ALTER TABLE hosts ADD COLUMN pause INTEGER NOT NULL DEFAULT 0;",
    // 8: when a task finished (coord_core::Task::finished_at; NULL while it is open), with a
    //    partial index of the open tasks by age and one of the finished ones by that time: the
    //    sweep, `coord task list` and retirement read those, however many tasks are kept.
    "ALTER TABLE tasks ADD COLUMN finished INTEGER;
    UPDATE tasks SET finished = json_extract(record, '$.updated_at')
        WHERE json_extract(record, '$.state') IN ('done', 'failed');
    CREATE INDEX tasks_open ON tasks (ns, created, id) WHERE finished IS NULL;
    CREATE INDEX tasks_finished ON tasks (ns, finished, id) WHERE finished IS NOT NULL;",
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the store up to [`VERSION`]; refuses a store from a newer coord.
pub fn migrate(conn: &Connection) -> Result<()> {
    let found = version(conn)?;
    if found == VERSION {
        return Ok(());
    }
    if found > VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: VERSION,
        });
    }
    conn.pragma_update(None, "journal_mode", "wal")?;
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}
