//! The fleet backend's batches: changes and reads of many sessions or tasks sent in one
//! pipeline, one round trip, rather than one each ([`crate::Store::renewals`] and its
//! kin). Each change is still one function call of its own, atomic on the server as when sent
//! alone; a batch only saves the waiting.
//!
//! Each answer is read on its own: one that fails fails only its call. A call of a function the
//! server does not have (it restarted without its data, or its functions were flushed) ran
//! nothing, so it runs again on its own, which loads the library. A command a cluster node sent
//! elsewhere (`MOVED`, `ASK`: its slot moves) or asked to try again also runs again alone: the
//! cluster client follows those for a command alone, not inside a pipeline. A connection that breaks
//! fails every call of the batch, which may have landed in part, as a single call that
//! times out may have.

use ::redis::{ErrorKind, FromRedisValue, Pipeline, RedisError};
use coord_core::{Beat, Session, Task};

use super::connection::{Stage, failed};
use super::scripts::{Call, not_loaded};
use super::tasks::task_from_hmget;
use super::{Answer, RedisStore, record};
use crate::{ClaimOutcome, ClaimRequest, Renewal, Result, TaskPut};

impl RedisStore {
    pub(super) fn renewals_pipelined(
        &self,
        beats: &[(&str, &Beat)],
    ) -> Vec<Result<Option<Renewal>>> {
        let calls = beats
            .iter()
            .map(|(id, beat)| self.heartbeat_call(id, beat, Answer::Counters))
            .collect();
        self.invoke_all::<Option<(u64, u64, u64)>>(calls)
            .into_iter()
            .zip(beats)
            .map(|(counters, (id, _))| Ok(counters?.map(|c| record::renewal(id, c))))
            .collect()
    }

    pub(super) fn sessions_pipelined(&self, ids: &[&str]) -> Vec<Result<Option<Session>>> {
        let mut pipe = ::redis::pipe();
        for id in ids {
            pipe.cmd("HGETALL").arg(self.keys.session(id));
        }
        self.answers::<Vec<String>>(&mut pipe, ids.len())
            .into_iter()
            .map(|fields| fields.and_then(record::session_from_fields))
            .collect()
    }

    pub(super) fn tasks_pipelined(&self, ids: &[&str]) -> Vec<Result<Option<Task>>> {
        let mut pipe = ::redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys.task(id))
                .arg("record")
                .arg("progress");
        }
        self.answers(&mut pipe, ids.len())
            .into_iter()
            .map(|fields| fields.and_then(task_from_hmget))
            .collect()
    }

    pub(super) fn claims_pipelined(&self, claims: &[ClaimRequest]) -> Vec<Result<ClaimOutcome>> {
        let calls = claims.iter().map(|c| self.claim_call(c)).collect();
        self.invoke_all::<Vec<Option<String>>>(calls)
            .into_iter()
            .zip(claims)
            .map(|(answer, claim)| answer.and_then(|a| self.claim_outcome(claim, &a)))
            .collect()
    }

    pub(super) fn puts_pipelined(&self, puts: &[TaskPut]) -> Vec<Result<bool>> {
        let calls = puts
            .iter()
            .map(|p| self.put_call(p.task, p.expected, p.events))
            .collect();
        self.invoke_all::<i64>(calls)
            .into_iter()
            .map(|stored| stored.map(|s| s == 1))
            .collect()
    }

    /// Runs the calls that could be made in one pipeline, and gives each its answer in order
    /// (a call that could not be made, its error).
    fn invoke_all<T: FromRedisValue>(&self, calls: Vec<Result<Call<'_>>>) -> Vec<Result<T>> {
        let alone = |call: &Call<'_>| self.with(|con| call.invoke(con));
        let mut calls = calls;
        if calls.len() == 1
            && let Some(call) = calls.pop()
        {
            // Alone, as a plain call: a script the server lost is loaded at the first refusal.
            return vec![call.and_then(|call| alone(&call))];
        }
        let mut pipe = ::redis::pipe();
        let mut sent = 0;
        for call in calls.iter().flatten() {
            pipe.add_command(call.cmd());
            sent += 1;
        }
        let mut answers = self.answers_raw::<T>(&mut pipe, sent).into_iter();
        calls
            .into_iter()
            .map(|call| {
                let call = call?;
                match answers.next().unwrap_or_else(|| Err(lost())) {
                    Err(e) if again_alone(&e) => alone(&call),
                    answer => answer.map_err(failed(&self.url, self.timeout, Stage::Request)),
                }
            })
            .collect()
    }

    /// The answers of the `n` commands of `pipe`, sent in one round trip.
    fn answers<T: FromRedisValue>(&self, pipe: &mut Pipeline, n: usize) -> Vec<Result<T>> {
        self.answers_raw(pipe, n)
            .into_iter()
            .map(|a| a.map_err(failed(&self.url, self.timeout, Stage::Request)))
            .collect()
    }

    /// The same with the `redis` crate's errors: each command's own, or, when the round trip
    /// failed, its error for every command.
    fn answers_raw<T: FromRedisValue>(
        &self,
        pipe: &mut Pipeline,
        n: usize,
    ) -> Vec<Result<T, RedisError>> {
        if n == 0 {
            return Vec::new();
        }
        let round = self.on_connection(|con| {
            let answers = pipe
                .ignore_errors()
                .query::<Vec<Result<T, RedisError>>>(con)?;
            if answers.len() != n {
                return Err(lost());
            }
            // A master a failover made a replica refused every write: nothing of the round
            // landed, so it goes again to the master the sentinels name now.
            match answers.iter().find_map(|a| a.as_ref().err()) {
                Some(e) if self.target.demoted(e) => Err(e.clone()),
                _ => Ok(answers),
            }
        });
        let mut answers = match round {
            Ok(answers) => answers,
            Err((_, e)) => return (0..n).map(|_| Err(e.clone())).collect(),
        };
        // A cluster node that no longer serves the slot (or serves it half moved) answers each
        // command so: each goes again alone, through the cluster client's redirections.
        for (answer, cmd) in answers.iter_mut().zip(pipe.cmd_iter()) {
            if answer.as_ref().is_err_and(RedisError::is_cluster_error) {
                *answer = self.on_connection(|con| cmd.query(con)).map_err(|(_, e)| e);
            }
        }
        answers
    }
}

/// Whether a call refused inside a pipeline is to run again on its own, which loads the
/// library: the server lost it, or a cluster node the call was sent on to does not have it yet.
fn again_alone(e: &RedisError) -> bool {
    not_loaded(e)
}

/// The error of an answer a pipeline did not give.
fn lost() -> RedisError {
    RedisError::from((
        ErrorKind::Io,
        "the server answered fewer commands than were sent",
    ))
}
