//! The ClaudeBench `system.*` family, so ClaudeBench instances and its web client work
//! unchanged: the same method names, camelCase parameters and results of the same shapes
//! (see `shared/design/claudebench-compat.md`), without its bugs.
//!
//! An instance is a coord session registered by the API (source `api`, runtime `other`, no
//! process), with a 30 s TTL of its own, since ClaudeBench instances promise a heartbeat every
//! 10 to 15 s. Its roles become labels (`role=<first role>`, and `role.<r>=true` for each), so
//! tasks labelled with a role go to instances that have it; `metadata.workingDirectory` is its
//! working directory. Whether an instance is healthy is coord's verdict (one rule for every
//! session), not a timeout the caller picks: `check_health` checks that `timeout` is a number,
//! as ClaudeBench does, and does not use it yet.
//!
//! Unlike ClaudeBench: a heartbeat always renews (no cache), an unregister takes back the
//! instance's tasks (whatever their holder's role), `check_health` hands waiting work to any
//! live instance whose labels fit, and `get_state` returns typed objects.

use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::{Beat, PolicyOverrides, Runtime, Source, State, Task, TaskState};
use coord_service::tasks::DEFAULT_LEASE;
use coord_service::{Entry, RegisterRequest, ServiceError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, Context, Named, Prepared, Work, non_empty, parse};
use crate::rpc::RpcError;
use crate::work::{Beaten, Then};

/// The TTL of an API instance: ClaudeBench's, twice its longest heartbeat interval.
pub const INSTANCE_TTL: Duration = Duration::from_secs(30);

/// The most quiet sessions one `check_health` examines.
pub const SWEEP_LIMIT: usize = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterParams {
    id: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    working_directory: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UnregisterParams {
    instance_id: String,
    session_id: String,
    /// Required, as ClaudeBench requires it; coord times the end on the store's clock.
    #[serde(rename = "timestamp")]
    _timestamp: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceParams {
    instance_id: String,
}

/// `system.register {id, roles?, metadata?}` → `{registered: true}`.
pub fn register(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: RegisterParams = parse(params)?;
    non_empty("id", &p.id)?;
    if p.roles.iter().any(String::is_empty) {
        return Err(RpcError::invalid_params(
            "roles",
            "a role must not be empty",
        ));
    }
    let cwd = p.metadata.and_then(|m| m.working_directory);
    let req = RegisterRequest {
        id: Some(p.id),
        runtime: Some(Runtime::Other),
        cwd: cwd.map(Into::into),
        labels: role_labels(&p.roles),
        policy: PolicyOverrides {
            ttl: Some(INSTANCE_TTL.as_millis() as u64),
            ..PolicyOverrides::default()
        },
        source: Some(Source::Api),
        ..RegisterRequest::default()
    };
    Ok(Prepared::change(
        "id",
        Work::run(move |s| {
            s.register(req)?;
            Ok(Answer::later(|| json!({ "registered": true })))
        }),
    )
    .or_else(json!({ "registered": false })))
}

/// `system.heartbeat {instanceId}` → `{alive, isLeader}`: `alive` false (not an error) for an
/// instance that is not registered; `isLeader` renews the leader lease, or takes it if nobody
/// holds it.
pub fn heartbeat(params: Named<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: InstanceParams = parse(params)?;
    non_empty("instanceId", &p.instance_id)?;
    let metrics = ctx.metrics.clone();
    let id = p.instance_id;
    let then: Then<Beaten> = Box::new(move |beaten| {
        let leads = match beaten {
            Ok(Beaten {
                session,
                leadership,
            }) => leadership.is_some_and(|l| l.is(&session.id)),
            Err(ServiceError::NotRegistered(_)) => {
                return Ok(Answer::later(
                    || json!({ "alive": false, "isLeader": false }),
                ));
            }
            Err(e) => return Err(e),
        };
        metrics.heartbeats(1);
        Ok(Answer::later(
            move || json!({ "alive": true, "isLeader": leads }),
        ))
    });
    let beat = Box::new(|now| Beat::activity(Source::Api, now));
    Ok(Prepared::change(
        "instanceId",
        Work::Beat {
            id,
            beat,
            lead: true,
            then,
        },
    )
    .or_else(json!({ "alive": false, "isLeader": false })))
}

/// `system.unregister {instanceId, sessionId, timestamp}` → `{unregistered: true,
/// tasksReassigned: n}`: ends the instance and takes back the tasks it held (they wait the
/// lock-delay, then go to the next live instance that fits). An unknown instance is not an
/// error. As in ClaudeBench, all three parameters are required (the ids not empty, the time a
/// number), and a call without them changes nothing.
pub fn unregister(params: Named<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: UnregisterParams = parse(params)?;
    non_empty("instanceId", &p.instance_id)?;
    non_empty("sessionId", &p.session_id)?;
    let metrics = ctx.metrics.clone();
    let id = p.instance_id;
    Ok(Prepared::change(
        "instanceId",
        Work::run(move |s| {
            match s.unregister(&id, Source::Api) {
                Ok(_) | Err(ServiceError::NotRegistered(_)) => {}
                Err(e) => return Err(e),
            }
            let why = format!("its holder {id} unregistered");
            let taken = s.reclaim_from(&id, &why, s.policy().lock_delay)?;
            metrics.swept(0, taken.len(), 0, 0);
            Ok(Answer::later(
                move || json!({ "unregistered": true, "tasksReassigned": taken.len() }),
            ))
        }),
    )
    .or_else(json!({ "unregistered": false, "tasksReassigned": 0 })))
}

/// `system.check_health {timeout?}` → `{healthy, failed, reassigned: {taskId: sessionId}}`
/// (with `stale` and `unknown`, which are neither): a sweep (evicting the dead past the grace
/// period and taking back their work), the leader lease handed on if it was lost, and the
/// waiting tasks handed to live sessions. `failed` lists the dead, evicted or not.
pub fn check_health(params: Named<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: serde_json::Map<String, Value> = parse(params)?;
    if p.get("timeout").is_some_and(|t| !t.is_number()) {
        return Err(RpcError::invalid_params("timeout", "must be a number"));
    }
    let metrics = ctx.metrics.clone();
    Ok(Prepared::new("id", move |s| {
        let report = s.check_health(SWEEP_LIMIT)?;
        let reassigned = s.assign(DEFAULT_LEASE)?;
        metrics.swept(
            report.evicted.len(),
            report.released.len(),
            reassigned.len(),
            report.retired,
        );
        let fleet = s.fleet()?;
        let ids = |keep: fn(State) -> bool| -> Vec<&str> {
            fleet
                .entries
                .iter()
                .filter(|e| keep(e.verdict.state))
                .map(|e| e.session.id.as_str())
                .collect()
        };
        let mut failed = ids(|st| st == State::Dead);
        failed.extend(report.evicted.iter().map(|(id, _)| id.as_str()));
        failed.sort_unstable();
        failed.dedup();
        Ok(json!({
            "healthy": ids(State::is_live),
            "failed": failed,
            "reassigned": reassigned,
            "stale": ids(|st| st == State::Stale),
            "unknown": ids(|st| st == State::Unknown),
        }))
    })
    .or_else(json!({ "healthy": [], "failed": [], "reassigned": {} })))
}

/// `system.get_state {}` → `{instances, tasks, leader, seq}`: every session not ended (as
/// instances: ClaudeBench's fields and coord's verdict), every task, the leader and its term,
/// and the event log's latest sequence number, read first (so `events.subscribe {since: seq}`
/// misses nothing that happened after this state).
pub fn get_state(ctx: &Context) -> Prepared {
    let hint = ctx.seq_hint();
    Prepared::new("id", move |s| {
        let seq = super::events::end_of_log(s, hint)?;
        let leadership = s.leadership()?;
        let leader = leadership.leader.as_ref().map(|(id, _)| id.as_str());
        let fleet = s.fleet()?;
        let instances: Vec<Value> = fleet
            .entries
            .iter()
            .filter(|e| e.verdict.state != State::Ended)
            .map(|e| instance(e, leader))
            .collect();
        let tasks: Vec<Value> = s.tasks(false)?.iter().map(task_summary).collect();
        Ok(json!({
            "instances": instances,
            "tasks": tasks,
            "leader": leadership.leader.as_ref().map(|(id, term)| json!({ "instanceId": id, "term": term })),
            "seq": seq,
        }))
    })
}

/// The labels that carry roles: `role=<first role>`, and `role.<r>=true` for every role.
fn role_labels(roles: &[String]) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = roles
        .iter()
        .map(|r| (format!("role.{r}"), "true".to_owned()))
        .collect();
    if let Some(first) = roles.first() {
        labels.insert("role".to_owned(), first.clone());
    }
    labels
}

/// The roles the labels carry, the first role first.
fn roles_of(labels: &BTreeMap<String, String>) -> Vec<String> {
    let first = labels.get("role");
    first
        .into_iter()
        .cloned()
        .chain(
            labels
                .keys()
                .filter_map(|k| k.strip_prefix("role."))
                .filter(|r| Some(*r) != first.map(String::as_str))
                .map(str::to_owned),
        )
        .collect()
}

/// ClaudeBench's status of an instance in a state.
fn status(state: State) -> &'static str {
    match state {
        State::Active | State::Stale => "ACTIVE",
        State::InTool | State::Blocked | State::Limited | State::Background => "BUSY",
        State::Idle => "IDLE",
        State::Unknown | State::Dead | State::Ended => "OFFLINE",
    }
}

/// One instance of `get_state`.
fn instance(e: &Entry, leader: Option<&str>) -> Value {
    let s = &e.session;
    json!({
        "id": s.id,
        "roles": roles_of(&s.labels),
        "status": status(e.verdict.state),
        "lastSeen": s.last_seen.as_millis(),
        "isLeader": leader == Some(s.id.as_str()),
        "state": e.verdict.state.as_str(),
        "reason": e.verdict.reason,
        "registeredAt": s.registered_at.as_millis(),
        "host": s.host,
        "pid": s.pid,
        "runtime": s.runtime.as_str(),
        "task": s.task,
        "labels": s.labels,
        "metadata": { "workingDirectory": s.cwd },
    })
}

/// One task of `get_state`, in ClaudeBench's words (`in_progress`, `completed`).
fn task_summary(t: &Task) -> Value {
    let (status, holder, token) = match &t.state {
        TaskState::Pending => ("pending", None, None),
        TaskState::Claimed { session, token, .. } => ("in_progress", Some(session), Some(*token)),
        TaskState::Done { session } => ("completed", Some(session), None),
        TaskState::Failed { .. } => ("failed", None, None),
    };
    json!({
        "id": t.id,
        "text": t.title,
        "status": status,
        "assignedTo": holder,
        "token": token,
        "attempts": t.attempts,
        "maxAttempts": t.max_attempts,
        "labels": t.labels,
        "progress": t.progress,
        "createdAt": t.created_at.as_millis(),
        "updatedAt": t.updated_at.as_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_survive_the_trip_through_labels() {
        let roles = vec!["worker".to_owned(), "reviewer".to_owned(), "a".to_owned()];
        let labels = role_labels(&roles);
        assert_eq!(labels["role"], "worker");
        assert_eq!(labels["role.reviewer"], "true");
        assert_eq!(roles_of(&labels), ["worker", "a", "reviewer"]);
        assert!(roles_of(&role_labels(&[])).is_empty());
    }
}
