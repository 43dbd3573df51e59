//! The fleet backend's task queue: a task is a hash (`revision`, `record`: its JSON with no
//! progress, `progress`: a holder's details as the client sent them), listed by age in
//! `…:tasks`; the ones that wait are in `…:waiting` too, which `claim_task.lua` reads to claim
//! the oldest that fits in one step.

use coord_core::Task;

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

impl RedisStore {
    pub(super) fn read_task(&self, id: &str) -> Result<Option<Task>> {
        let (record, progress): (Option<String>, Option<String>) = self.with(|con| {
            ::redis::cmd("HMGET")
                .arg(self.keys.task(id))
                .arg("record")
                .arg("progress")
                .query(con)
        })?;
        record
            .map(|r| task_from_fields(&r, progress.as_deref()))
            .transpose()
    }

    pub(super) fn read_tasks(&self) -> Result<Vec<Task>> {
        let ids: Vec<String> = self.with(|con| {
            ::redis::cmd("ZRANGE")
                .arg(&self.keys.tasks)
                .arg(0)
                .arg(-1)
                .query(con)
        })?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET")
                .arg(self.keys.task(id))
                .arg("record")
                .arg("progress");
        }
        let records: Vec<(Option<String>, Option<String>)> = self.with(|con| pipe.query(con))?;
        records
            .into_iter()
            .filter_map(|(r, p)| Some(task_from_fields(&r?, p.as_deref())))
            .collect()
    }

    pub(super) fn swap_task(
        &self,
        task: &Task,
        expected: Option<u64>,
        events: &[TaskEvent],
    ) -> Result<bool> {
        let k = &self.keys;
        let mut call = self.scripts.get(Lua::PutTask).prepare_invoke();
        call.key(k.task(&task.id))
            .key(&k.tasks)
            .key(&k.last_seen)
            .key(&k.hosts)
            .key(&k.seq)
            .key(&k.events)
            .key(&k.waiting)
            .key(&k.waiting_built)
            .arg(&task.id)
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
            );
        for e in events {
            call.arg(&e.session)
                .arg(e.incarnation.to_string())
                .arg(serde_json::to_string(&e.kind)?);
        }
        let stored: i64 = self.with(|con| call.invoke(con))?;
        Ok(stored == 1)
    }

    pub(super) fn claim(&self, claim: &ClaimRequest) -> Result<ClaimOutcome> {
        let k = &self.keys;
        let mut call = self.scripts.get(Lua::ClaimTask).prepare_invoke();
        call.key(k.task(claim.task.unwrap_or("")))
            .key(&k.tasks)
            .key(&k.last_seen)
            .key(&k.hosts)
            .key(&k.seq)
            .key(&k.events)
            .key(&k.waiting)
            .key(&k.tokens)
            .key(&k.waiting_built)
            .arg(claim.session)
            .arg(claim.incarnation.to_string())
            .arg(serde_json::to_string(claim.labels)?)
            .arg(claim.task.unwrap_or(""))
            .arg(claim.lease.as_millis().to_string())
            .arg(k.task_prefix())
            .arg(coord_core::LEADER_TASK)
            .arg(coord_core::task::HISTORY_LEN.to_string())
            .arg(&k.tasks);
        let answer: Vec<Option<String>> = self.with(|con| call.invoke(con))?;
        match answer.first().cloned().flatten().as_deref() {
            Some("claimed") => {
                let record = answer.get(1).cloned().flatten().unwrap_or_default();
                let progress = answer.get(2).cloned().flatten();
                Ok(ClaimOutcome::Claimed(Box::new(task_from_fields(
                    &record,
                    progress.as_deref(),
                )?)))
            }
            Some("missing") => Ok(ClaimOutcome::NoSuchTask),
            Some("refused") => ClaimOutcome::refused(self, claim.task.unwrap_or_default()),
            _ => Ok(ClaimOutcome::NothingWaits),
        }
    }
}
