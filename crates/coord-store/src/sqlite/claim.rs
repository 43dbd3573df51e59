//! The embedded store's task queue writes: a task row with whether it waits (the partial index
//! of waiting tasks by age reads that column), and the atomic claim. A claim runs in one write
//! transaction (`BEGIN IMMEDIATE`: no other writer between the pick and the write): the task
//! named, or the oldest waiting one that fits ([`Task::next_for`]) read through the index, its
//! fencing token taken from the counter, the core's [`Task::claim`] applied, its event logged.
//! Finished tasks are not in the index, so they cost a claim nothing.

use coord_core::{Task, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, rows};
use crate::{ClaimOutcome, ClaimRequest, Result};

impl SqliteStore {
    /// Writes `task`'s row (replacing any), with whether it waits.
    pub(super) fn write_task_row(&self, tx: &Connection, task: &Task) -> Result<()> {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO tasks (ns, id, created, revision, record, waits, finished) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            self.ns,
            task.id,
            task.created_at.as_millis(),
            task.revision,
            rows::task_json(task)?,
            task.waits(),
            task.finished_at().map(Timestamp::as_millis)
        ])?;
        Ok(())
    }

    /// Takes the namespace's next fencing token inside the open transaction.
    pub(super) fn take_token(&self, tx: &Connection) -> Result<u64> {
        Ok(tx
            .prepare_cached(
                "INSERT INTO tokens (ns, last) VALUES (?1, 1) \
                 ON CONFLICT (ns) DO UPDATE SET last = last + 1 RETURNING last",
            )?
            .query_row(params![self.ns], |r| r.get(0))?)
    }

    /// [`crate::Store::claim_task`].
    pub(super) fn claim(&self, claim: &ClaimRequest) -> Result<ClaimOutcome> {
        self.write(|tx, now| {
            let picked = if let Some(id) = claim.task {
                let Some(t) = tx
                    .prepare_cached("SELECT record FROM tasks WHERE ns = ?1 AND id = ?2")?
                    .query_row(params![self.ns, id], |r| r.get::<_, String>(0))
                    .optional()?
                else {
                    return Ok(ClaimOutcome::NoSuchTask);
                };
                let t: Task = serde_json::from_str(&t)?;
                if let Err(e) = t.claimable_now(now) {
                    return Ok(ClaimOutcome::Refused(e));
                }
                t
            } else {
                let mut stmt = tx.prepare_cached(
                    "SELECT record FROM tasks WHERE ns = ?1 AND waits ORDER BY created, id",
                )?;
                let mut rows = stmt.query(params![self.ns])?;
                let mut found = None;
                while let Some(row) = rows.next()? {
                    let t = rows::task_from_row(row)?;
                    if t.next_for(claim.labels, now) {
                        found = Some(t);
                        break;
                    }
                }
                let Some(t) = found else {
                    return Ok(ClaimOutcome::NothingWaits);
                };
                t
            };
            let token = self.take_token(tx)?;
            let mut t = picked;
            if let Err(e) = t.claim(claim.session, token, claim.lease, now) {
                return Ok(ClaimOutcome::Refused(e));
            }
            self.write_task_row(tx, &t)?;
            let event = t.claimed_event(token);
            self.log(
                tx,
                claim.session,
                claim.incarnation,
                std::slice::from_ref(&event),
                now,
            )?;
            self.remember_task(&t);
            Ok(ClaimOutcome::Claimed(Box::new(t)))
        })
    }
}
