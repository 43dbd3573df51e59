//! The fleet backend's task queue: a task is a hash (`revision`, `record`: its JSON with no
//! progress, `progress`: a holder's details as the client sent them), listed by age in
//! `…:tasks`; the ones that wait are in `…:waiting` too, which `claim_task.lua` reads to claim
//! the oldest that fits in one step, and every task is in `…:open` (by age) or `…:finished`
//! (by when it finished), which the sweep, the listing and retirement read.

use coord_core::{Task, Timestamp};

use super::scripts::Call;
use super::{Lua, RedisStore};
use crate::{ClaimOutcome, ClaimRequest, Result, TaskEvent};

/// A task as stored: its record, and its progress (a field of its own, the client's JSON as
/// sent; older records hold it inside).
fn task_from_fields(record: &str, progress: Option<&str>) -> Result<Task> {
    let mut task: Task = serde_json::from_str(record)?;
    if let Some(p) = progress {
        task.progress = Some(serde_json::from_str(p)?);
    }
    Ok(task)
}

/// A task as `HMGET … record progress` gives it.
pub(super) fn task_from_hmget(
    (record, progress): (Option<String>, Option<String>),
) -> Result<Option<Task>> {
    record
        .map(|r| task_from_fields(&r, progress.as_deref()))
        .transpose()
}

impl RedisStore {
    pub(super) fn read_task(&self, id: &str) -> Result<Option<Task>> {
        let fields = self.with(|con| {
            ::redis::cmd("HMGET")
                .arg(self.keys.task(id))
                .arg("record")
                .arg("progress")
                .query(con)
        })?;
        task_from_hmget(fields)
    }

    pub(super) fn read_tasks(&self) -> Result<Vec<Task>> {
        let ids: Vec<String> = self.with(|con| {
            ::redis::cmd("ZRANGE")
                .arg(&self.keys.tasks)
                .arg(0)
                .arg(-1)
                .query(con)
        })?;
        self.read_tasks_named(&ids)
    }

    /// The tasks of `ids` that still exist, in that order, in one round trip.
    fn read_tasks_named(&self, ids: &[String]) -> Result<Vec<Task>> {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.tasks_pipelined(&ids)
            .into_iter()
            .filter_map(Result::transpose)
            .collect()
    }

    /// A call of a task script with `put_task.lua`'s keys, for task `id` (any, if none).
    fn task_call(&self, lua: Lua, id: &str) -> Call<'_> {
        let k = &self.keys;
        let mut call = self.scripts.call(lua);
        call.key(k.task(id))
            .key(&k.tasks)
            .key(&k.last_seen)
            .key(&k.hosts)
            .key(&k.seq)
            .key(&k.events)
            .key(&k.waiting)
            .key(&k.waiting_built)
            .key(&k.open)
            .key(&k.finished)
            .key(&k.indexed);
        call
    }

    /// Builds the open and finished indexes once, for a namespace written before them.
    fn ensure_indexed(&self) -> Result<()> {
        if !self.indexed.get() {
            let mut call = self.task_call(Lua::IndexTasks, "");
            call.arg(self.keys.task_prefix());
            let _: i64 = self.with(|con| call.invoke(con))?;
            self.indexed.set(true);
        }
        Ok(())
    }

    pub(super) fn open_tasks_indexed(&self) -> Result<Vec<Task>> {
        self.ensure_indexed()?;
        let ids: Vec<String> = self.with(|con| {
            ::redis::cmd("ZRANGE")
                .arg(&self.keys.open)
                .arg(0)
                .arg(-1)
                .query(con)
        })?;
        self.read_tasks_named(&ids)
    }

    pub(super) fn finished_tasks_indexed(&self, limit: usize) -> Result<Vec<Task>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.ensure_indexed()?;
        let ids: Vec<String> = self.with(|con| {
            ::redis::cmd("ZREVRANGE")
                .arg(&self.keys.finished)
                .arg(0)
                .arg(limit - 1)
                .query(con)
        })?;
        self.read_tasks_named(&ids)
    }

    pub(super) fn retire(&self, before: Timestamp, limit: usize) -> Result<usize> {
        self.ensure_indexed()?;
        let mut call = self.task_call(Lua::RetireTasks, "");
        call.arg(self.keys.task_prefix())
            .arg(before.as_millis())
            .arg(limit);
        let removed: usize = self.with(|con| call.invoke(con))?;
        Ok(removed)
    }

    pub(super) fn swap_task(
        &self,
        task: &Task,
        expected: Option<u64>,
        events: &[TaskEvent],
    ) -> Result<bool> {
        let call = self.put_call(task, expected, events)?;
        let stored: i64 = self.with(|con| call.invoke(con))?;
        Ok(stored == 1)
    }

    /// A call of `put_task.lua`: `task` stored if the stored one is still `expected`.
    pub(super) fn put_call(
        &self,
        task: &Task,
        expected: Option<u64>,
        events: &[TaskEvent],
    ) -> Result<Call<'_>> {
        let mut call = self.task_call(Lua::PutTask, &task.id);
        call.arg(&task.id)
            .arg(expected.map(|r| r.to_string()).unwrap_or_default())
            .arg(task.revision.to_string())
            .arg(task.created_at.as_millis())
            .arg(serde_json::to_string(&Task {
                progress: None,
                ..task.clone()
            })?)
            .arg(if task.waits() { "1" } else { "0" })
            .arg(
                task.progress
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()?
                    .unwrap_or_default(),
            )
            .arg(
                task.finished_at()
                    .map(|t| t.as_millis().to_string())
                    .unwrap_or_default(),
            );
        for e in events {
            call.arg(&e.session)
                .arg(e.incarnation.to_string())
                .arg(serde_json::to_string(&e.kind)?);
        }
        Ok(call)
    }

    pub(super) fn claim(&self, claim: &ClaimRequest) -> Result<ClaimOutcome> {
        let call = self.claim_call(claim)?;
        let answer: Vec<Option<String>> = self.with(|con| call.invoke(con))?;
        self.claim_outcome(claim, &answer)
    }

    /// A call of `claim_task.lua`.
    pub(super) fn claim_call(&self, claim: &ClaimRequest) -> Result<Call<'_>> {
        let k = &self.keys;
        let mut call = self.scripts.call(Lua::ClaimTask);
        call.key(k.task(claim.task.unwrap_or("")))
            .key(&k.tasks)
            .key(&k.last_seen)
            .key(&k.hosts)
            .key(&k.seq)
            .key(&k.events)
            .key(&k.waiting)
            .key(&k.tokens)
            .key(&k.waiting_built)
            .key(&k.tokens_fenced)
            .arg(claim.session)
            .arg(claim.incarnation.to_string())
            .arg(serde_json::to_string(claim.labels)?)
            .arg(claim.task.unwrap_or(""))
            .arg(claim.lease.as_millis().to_string())
            .arg(k.task_prefix())
            .arg(coord_core::LEADER_TASK)
            .arg(coord_core::task::HISTORY_LEN.to_string())
            .arg(&k.tasks);
        Ok(call)
    }

    /// What `claim_task.lua`'s `answer` to `claim` means.
    pub(super) fn claim_outcome(
        &self,
        claim: &ClaimRequest,
        answer: &[Option<String>],
    ) -> Result<ClaimOutcome> {
        let field = |i: usize| answer.get(i).and_then(Option::as_deref);
        match field(0) {
            Some("claimed") => Ok(ClaimOutcome::Claimed(Box::new(task_from_fields(
                field(1).unwrap_or_default(),
                field(2),
            )?))),
            Some("missing") => Ok(ClaimOutcome::NoSuchTask),
            Some("refused") => ClaimOutcome::refused(self, claim.task.unwrap_or_default()),
            _ => Ok(ClaimOutcome::NothingWaits),
        }
    }
}
