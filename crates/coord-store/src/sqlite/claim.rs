//! The embedded store's task queue: reading tasks (the open ones and the finished ones through
//! indexes of their own), retiring finished ones, the compare-and-set of a task row with
//! whether it waits (the partial index of waiting tasks by age reads that column), and the
//! atomic claim. A claim runs in one write
//! transaction (`BEGIN IMMEDIATE`: no other writer between the pick and the write): the task
//! named, or the oldest waiting one that fits ([`Task::next_for`]) read through the index, its
//! fencing token taken from the counter, the core's [`Task::claim`] applied, its event logged.
//! Finished tasks are not in the index, so they cost a claim nothing.

use coord_core::{Task, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, rows};
use crate::{ClaimOutcome, ClaimRequest, Result, TaskEvent};

impl SqliteStore {
    /// One task: inside a group on a lasting handle, as the group last read or wrote it.
    pub(super) fn read_task(&self, id: &str) -> Result<Option<Task>> {
        let in_group = self.grouping.get();
        if in_group
            && let Some(lasting) = &self.lasting
            && let Some(t) = lasting.recent.borrow().tasks.get(id)
        {
            return Ok(Some(t.clone()));
        }
        let task = self
            .select(
                "SELECT record FROM tasks WHERE ns = ?1 AND id = ?2",
                params![self.ns, id],
                rows::task_from_row,
            )?
            .pop();
        if in_group && let Some(t) = &task {
            self.remember_task(t);
        }
        Ok(task)
    }

    /// The tasks that `filter` (SQL after the namespace's condition) keeps, oldest first.
    pub(super) fn read_tasks(&self, filter: &str) -> Result<Vec<Task>> {
        self.select(
            &format!("SELECT record FROM tasks WHERE ns = ?1 {filter} ORDER BY created, id"),
            params![self.ns],
            rows::task_from_row,
        )
    }

    /// The `limit` tasks finished last, the latest first.
    pub(super) fn read_finished(&self, limit: usize) -> Result<Vec<Task>> {
        self.select(
            "SELECT record FROM tasks WHERE ns = ?1 AND finished IS NOT NULL \
             ORDER BY finished DESC, id DESC LIMIT ?2",
            params![self.ns, i64::try_from(limit).unwrap_or(i64::MAX)],
            rows::task_from_row,
        )
    }

    /// Removes up to `limit` tasks finished before `before`, the oldest first.
    pub(super) fn retire(&self, before: Timestamp, limit: usize) -> Result<usize> {
        // Most sweeps find nothing due: an index read, so that they take no write lock.
        let due = !self
            .select(
                "SELECT 1 FROM tasks WHERE ns = ?1 AND finished IS NOT NULL AND finished < ?2 \
                 LIMIT 1",
                params![self.ns, before.as_millis()],
                |_| Ok(()),
            )?
            .is_empty();
        if !due || limit == 0 {
            return Ok(0);
        }
        let removed = self.write(|tx, _| {
            Ok(tx
                .prepare_cached(
                    "DELETE FROM tasks WHERE ns = ?1 AND id IN (SELECT id FROM tasks \
                     WHERE ns = ?1 AND finished IS NOT NULL AND finished < ?2 \
                     ORDER BY finished, id LIMIT ?3)",
                )?
                .execute(params![
                    self.ns,
                    before.as_millis(),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ])?)
        })?;
        if removed > 0
            && let Some(lasting) = &self.lasting
        {
            lasting.recent.borrow_mut().tasks.clear();
        }
        Ok(removed)
    }

    /// Stores `task` if the stored one is still `expected`, with its events.
    pub(super) fn swap_task(
        &self,
        task: &Task,
        expected: Option<u64>,
        events: &[TaskEvent],
    ) -> Result<bool> {
        self.write(|tx, now| {
            let stored: Option<u64> = tx
                .prepare_cached("SELECT revision FROM tasks WHERE ns = ?1 AND id = ?2")?
                .query_row(params![self.ns, task.id], |r| r.get(0))
                .optional()?;
            if stored != expected {
                // Whoever read the task read it elsewhere: the next reader reads the row.
                if let Some(lasting) = &self.lasting {
                    lasting.recent.borrow_mut().tasks.remove(&task.id);
                }
                return Ok(false);
            }
            self.write_task_row(tx, task)?;
            for e in events {
                self.log(
                    tx,
                    &e.session,
                    e.incarnation,
                    std::slice::from_ref(&e.kind),
                    now,
                )?;
            }
            self.remember_task(task);
            Ok(true)
        })
    }

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
