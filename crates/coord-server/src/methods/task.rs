//! coord's own `task.*` methods, mirroring `coord task`: the work queue with fencing tokens.
//! Each answers with the task as `coord task show --json` prints it (its state, holder and
//! token, attempts, progress, history). A holder passes its claim's token with every change;
//! a stale token is -32005 and changes nothing; a task that cannot be claimed, or does not
//! exist, is -32010. Leases are milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::{NewTask, Task};
use coord_service::batch::{Claim, Update};
use coord_service::json as shapes;
use coord_service::tasks::{DEFAULT_LEASE, TaskOp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::schema::{Field, NAME, STRING, Schema, Signature};
use super::{Answer, Named, Prepared, Work, non_empty, parse};
use crate::rpc::RpcError;
use crate::work::Then;

/// A task as `coord task show --json` prints it (its main fields).
const TASK: Schema = Schema::Object(&[
    Field::required("id", NAME),
    Field::required("title", STRING),
    Field::required(
        "state",
        Schema::Enum(&["pending", "claimed", "done", "failed"]),
    ),
    Field::optional("session", STRING),
    Field::optional("token", Schema::Number),
    Field::required("labels", Schema::Record(&STRING)),
    Field::required("attempts", Schema::Number),
    Field::required("max_attempts", Schema::Number),
    Field::required("progress", Schema::Any),
    Field::required("history", Schema::Array(&Schema::Any)),
]);

/// What `task.add` takes and gives.
pub static ADD: Signature = Signature {
    input: Schema::Object(&[
        Field::required("title", NAME),
        Field::optional("id", STRING),
        Field::optional("labels", Schema::Record(&STRING)),
        Field::optional("maxAttempts", Schema::Number),
    ]),
    output: TASK,
    writes: true,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddParams {
    title: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    max_attempts: Option<u32>,
}

/// `task.add {title, id?, labels?, maxAttempts?}` → the task (its id defaults to `t-<n>`).
pub fn add(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: AddParams = parse(params)?;
    non_empty("title", &p.title)?;
    let spec = NewTask {
        id: p.id,
        title: p.title,
        labels: p.labels,
        max_attempts: p.max_attempts,
    };
    Ok(Prepared::change(
        "id",
        Work::run(move |s| {
            let t = s.task_add(spec)?;
            Ok(Answer::later(move || shapes::task(&t)))
        }),
    ))
}

/// What `task.claim` takes and gives.
pub static CLAIM: Signature = Signature {
    input: Schema::Object(&[
        Field::required("session", NAME),
        Field::optional("task", STRING),
        Field::optional("lease", Schema::Number),
    ]),
    output: TASK,
    writes: true,
};

#[derive(Deserialize)]
struct ClaimParams {
    session: String,
    task: Option<String>,
    lease: Option<u64>,
}

/// `task.claim {session, task?, lease?}` → the claimed task, with its token and the progress
/// the last holder left: the named task, or the oldest waiting one whose labels the session
/// carries.
pub fn claim(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: ClaimParams = parse(params)?;
    non_empty("session", &p.session)?;
    let claim = Claim {
        session: p.session,
        task: p.task,
        lease: lease(p.lease),
    };
    Ok(Prepared::change("session", Work::Claim(claim, shaped())))
}

/// What `task.progress` takes and gives.
pub static PROGRESS: Signature = Signature {
    input: Schema::Object(&[
        Field::required("task", STRING),
        Field::required("token", Schema::Number),
        Field::optional("details", Schema::Any),
        Field::optional("lease", Schema::Number),
    ]),
    output: TASK,
    writes: true,
};

#[derive(Deserialize)]
struct ProgressParams {
    task: String,
    token: u64,
    details: Option<Value>,
    lease: Option<u64>,
}

/// `task.progress {task, token, details?, lease?}` → the task; renews the lease.
pub fn progress(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: ProgressParams = parse(params)?;
    let op = TaskOp::Progress(p.details, lease(p.lease));
    Ok(update(p.task, p.token, op))
}

/// The parameters of a holder's change that says nothing more: the task and the token.
const UNDER_CLAIM: Schema = Schema::Object(&[
    Field::required("task", STRING),
    Field::required("token", Schema::Number),
]);

/// What `task.complete` takes and gives.
pub static COMPLETE: Signature = Signature {
    input: UNDER_CLAIM,
    output: TASK,
    writes: true,
};

/// What `task.release` takes and gives.
pub static RELEASE: Signature = Signature {
    input: UNDER_CLAIM,
    output: TASK,
    writes: true,
};

#[derive(Deserialize)]
struct TokenParams {
    task: String,
    token: u64,
}

/// `task.complete {task, token}` → the task, done.
pub fn complete(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: TokenParams = parse(params)?;
    Ok(update(p.task, p.token, TaskOp::Complete))
}

/// What `task.fail` takes and gives.
pub static FAIL: Signature = Signature {
    input: Schema::Object(&[
        Field::required("task", STRING),
        Field::required("token", Schema::Number),
        Field::required("reason", NAME),
    ]),
    output: TASK,
    writes: true,
};

#[derive(Deserialize)]
struct FailParams {
    task: String,
    token: u64,
    reason: String,
}

/// `task.fail {task, token, reason}` → the task, failed.
pub fn fail(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: FailParams = parse(params)?;
    non_empty("reason", &p.reason)?;
    Ok(update(p.task, p.token, TaskOp::Fail(p.reason)))
}

/// `task.release {task, token}` → the task, pending again.
pub fn release(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: TokenParams = parse(params)?;
    Ok(update(p.task, p.token, TaskOp::Release))
}

/// What `task.list` takes and gives.
pub static LIST: Signature = Signature {
    input: Schema::Object(&[Field::optional("all", Schema::Boolean)]),
    output: Schema::Object(&[Field::required("tasks", Schema::Array(&TASK))]),
    writes: false,
};

#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    all: bool,
}

/// `task.list {all?}` → `{tasks}`, oldest first: the open tasks and the last finished ones,
/// or with `all` every task kept.
pub fn list(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: ListParams = parse(params)?;
    Ok(Prepared::new("id", move |s| {
        let tasks: Vec<Value> = s.tasks(p.all)?.iter().map(shapes::task).collect();
        Ok(json!({ "tasks": tasks }))
    }))
}

/// What `task.show` takes and gives.
pub static SHOW: Signature = Signature {
    input: Schema::Object(&[Field::required("task", STRING)]),
    output: TASK,
    writes: false,
};

#[derive(Deserialize)]
struct ShowParams {
    task: String,
}

/// `task.show {task}` → the task with its history.
pub fn show(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: ShowParams = parse(params)?;
    Ok(Prepared::new("id", move |s| {
        Ok(shapes::task(&s.task(&p.task)?))
    }))
}

fn update(task: String, token: u64, op: TaskOp) -> Prepared {
    Prepared::change("id", Work::Update(Update { task, token, op }, shaped()))
}

/// The answer of a change that leaves a task: the task as `task.show` shows it.
fn shaped() -> Then<Task> {
    Box::new(|t| {
        let t = t?;
        Ok(Answer::later(move || shapes::task(&t)))
    })
}

fn lease(ms: Option<u64>) -> Duration {
    ms.map_or(DEFAULT_LEASE, Duration::from_millis)
}
