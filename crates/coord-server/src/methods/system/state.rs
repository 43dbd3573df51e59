//! What the fleet holds and what the server did: `system.get_state` (the instances, the tasks,
//! the latest events) and `system.metrics` (the server's counters, the work queue's figures and
//! the process's memory), in ClaudeBench's shapes with coord's real figures.
//!
//! As ClaudeBench does, `get_state` leaves out a list that is empty (a fresh store has no
//! `instances` and no `tasks`); the server's own session is not an instance. `metrics` gives
//! every figure it has (zero included) and leaves out those coord does not keep (ClaudeBench's
//! cache, its per-key counters).

use coord_core::{State, Task, TaskState};
use coord_service::{Entry, Fleet, json as shapes};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use super::ids::shown;
use super::{instances, params, roles_of};
use crate::limits::BreakerState;
use crate::methods::events::end_of_log;
use crate::methods::schema::{Field, NAME, NOTHING, OBJECT, STRING, Schema, Signature};
use crate::methods::{Context, Method, Prepared};
use crate::metrics::{MethodFigures, Metrics};
use crate::rpc::{Params, RpcError, code};

/// How many of the latest events `get_state` gives (ClaudeBench's number).
pub const RECENT_EVENTS: usize = 10;

/// One instance of `get_state` (its main fields).
const INSTANCE: Schema = Schema::Object(&[
    Field::required("id", NAME),
    Field::required("roles", Schema::Array(&STRING)),
    Field::required(
        "status",
        Schema::Enum(&["ACTIVE", "IDLE", "BUSY", "OFFLINE"]),
    ),
    Field::required("lastSeen", Schema::Number),
    Field::required("isLeader", Schema::Boolean),
    Field::required("state", STRING),
    Field::required("metadata", OBJECT),
]);

/// What `system.get_state` takes and gives (`leader` and `seq` are coord's).
pub static GET_STATE: Signature = Signature {
    input: NOTHING,
    output: Schema::Object(&[
        Field::optional("tasks", Schema::Array(&OBJECT)),
        Field::optional("instances", Schema::Array(&INSTANCE)),
        Field::optional("recentEvents", Schema::Array(&OBJECT)),
        Field::optional(
            "leader",
            Schema::Object(&[
                Field::required("instanceId", NAME),
                Field::required("term", Schema::Number),
            ]),
        ),
        Field::required("seq", Schema::Number),
    ]),
    writes: false,
};

/// Figures of one method in `metrics`.
const HANDLER: Schema = Schema::Object(&[
    Field::required("totalCalls", Schema::Number),
    Field::required("successCount", Schema::Number),
    Field::required("errorCount", Schema::Number),
    Field::required("avgResponseTime", Schema::Number),
    Field::required(
        "circuitState",
        Schema::Enum(&["CLOSED", "HALF_OPEN", "OPEN"]),
    ),
]);

/// What `system.metrics` takes and gives (the objects only with `detailed`).
pub static METRICS: Signature = Signature {
    input: Schema::Object(&[Field::optional("detailed", Schema::Boolean)]),
    output: Schema::Object(&[
        Field::optional("eventsProcessed", Schema::Number),
        Field::optional("tasksCompleted", Schema::Number),
        Field::optional("averageLatency", Schema::Number),
        Field::optional("memoryUsage", Schema::Number),
        Field::optional(
            "circuitBreaker",
            Schema::Object(&[
                Field::required("totalSuccesses", Schema::Number),
                Field::required("totalFailures", Schema::Number),
                Field::required("totalTrips", Schema::Number),
                Field::required("successRate", Schema::Number),
            ]),
        ),
        Field::optional(
            "queue",
            Schema::Object(&[
                Field::required("depth", Schema::Number),
                Field::required("pending", Schema::Number),
                Field::required("throughput", Schema::Number),
            ]),
        ),
        Field::optional(
            "current",
            Schema::Object(&[
                Field::optional("eventsTotal", Schema::Number),
                Field::optional("queueDepth", Schema::Number),
                Field::optional("instancesActive", Schema::Number),
                Field::optional("tasksPending", Schema::Number),
                Field::optional("tasksCompleted", Schema::Number),
                Field::optional("metricsStartTime", Schema::Number),
            ]),
        ),
        Field::optional(
            "scaling",
            Schema::Object(&[Field::optional("instanceCount", Schema::Number)]),
        ),
        Field::optional("handlers", Schema::Record(&HANDLER)),
    ]),
    writes: false,
};

/// `system.get_state {}` → `{instances?, tasks?, recentEvents?, leader?, seq}`: every instance
/// (ClaudeBench's fields and coord's verdict), every task, the [`RECENT_EVENTS`] latest events
/// (newest first), the leader and its term, and the event log's latest sequence number, read
/// first (so `events.subscribe {since: seq}` misses nothing that happened after this state).
pub fn get_state(params: Params<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    params::read::<IgnoredAny>(params, &GET_STATE.input)?;
    let hint = ctx.seq_hint();
    Ok(Prepared::new("id", move |s| {
        let seq = end_of_log(s, hint)?;
        let leadership = s.leadership()?;
        let leader = leadership.leader.as_ref().map(|(id, _)| id.as_str());
        let fleet = s.fleet()?;
        let recent = s.events(seq.saturating_sub(RECENT_EVENTS as u64), RECENT_EVENTS)?;
        let mut state = Map::new();
        let mut put = |key: &str, list: Vec<Value>| {
            if !list.is_empty() {
                state.insert(key.to_owned(), list.into());
            }
        };
        put("tasks", s.tasks(false)?.iter().map(task_summary).collect());
        put(
            "instances",
            instances(&fleet).map(|e| instance(e, leader)).collect(),
        );
        put(
            "recentEvents",
            recent
                .iter()
                .rev()
                .filter(|e| e.seq <= seq)
                .map(|e| {
                    let mut shown_event = shapes::event(e);
                    shown_event["session"] = shown(&e.session).into();
                    shown_event
                })
                .collect(),
        );
        if let Some((id, term)) = &leadership.leader {
            state.insert(
                "leader".to_owned(),
                json!({ "instanceId": shown(id), "term": term }),
            );
        }
        state.insert("seq".to_owned(), seq.into());
        Ok(Value::Object(state))
    }))
}

#[derive(Deserialize)]
struct MetricsParams {
    #[serde(default)]
    detailed: bool,
}

/// `system.metrics {detailed?}` → `{eventsProcessed, tasksCompleted, averageLatency,
/// memoryUsage}`: the calls this server answered, the completed tasks the store keeps, the
/// mean time to answer a call (ms) and the server's resident memory (MB, where the system
/// says). With `detailed`: `handlers` (each method called: its calls, errors and mean time, and
/// the breaker's state), `circuitBreaker` (calls answered, calls failed by the store or out of
/// time, times the breaker opened, and the success rate in percent), `queue` (open tasks,
/// waiting tasks, tasks finished in the last minute), `current` and `scaling` (instances).
pub fn metrics(params: Params<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: MetricsParams = params::read(params, &METRICS.input)?;
    let figures = ctx.metrics.clone();
    let hint = ctx.seq_hint();
    Ok(Prepared::new("id", move |s| {
        let now = s.now()?;
        let tasks = s.tasks(true)?;
        let count = |keep: fn(&Task) -> bool| tasks.iter().filter(|t| keep(t)).count();
        let completed = count(|t| matches!(t.state, TaskState::Done { .. }));
        let calls: Vec<(Method, MethodFigures)> = Method::ALL
            .iter()
            .map(|&m| (m, figures.method(m.name())))
            .collect();
        let total = calls
            .iter()
            .fold(MethodFigures::default(), |sum, (_, f)| MethodFigures {
                calls: sum.calls + f.calls,
                errors: sum.errors + f.errors,
                seconds: sum.seconds + f.seconds,
            });
        let mut out = json!({
            "eventsProcessed": total.calls,
            "tasksCompleted": completed,
            "averageLatency": mean_ms(total),
        });
        if let Some(mb) = resident_mb() {
            out["memoryUsage"] = mb.into();
        }
        if !p.detailed {
            return Ok(out);
        }
        let (level, trips) = figures.breaker_state();
        let circuit = match level {
            BreakerState::CLOSED => "CLOSED",
            BreakerState::HALF_OPEN => "HALF_OPEN",
            _ => "OPEN",
        };
        let handlers: Map<String, Value> = calls
            .iter()
            .filter(|(_, f)| f.calls > 0)
            .map(|(m, f)| {
                let one = json!({
                    "totalCalls": f.calls,
                    "successCount": f.calls - f.errors,
                    "errorCount": f.errors,
                    "avgResponseTime": mean_ms(*f),
                    "circuitState": circuit,
                });
                (m.name().to_owned(), one)
            })
            .collect();
        let successes = total.calls - total.errors;
        let failures = store_failures(&figures);
        let open = count(|t| t.finished_at().is_none());
        let pending = count(|t| t.state == TaskState::Pending);
        let minute_ago = now.minus(std::time::Duration::from_secs(60));
        let throughput = tasks
            .iter()
            .filter(|t| t.finished_at().is_some_and(|at| at >= minute_ago))
            .count();
        let fleet = s.fleet()?;
        let (all, active) = instance_counts(&fleet);
        out["handlers"] = handlers.into();
        out["circuitBreaker"] = json!({
            "totalSuccesses": successes,
            "totalFailures": failures,
            "totalTrips": trips,
            "successRate": percent(successes, successes + failures),
        });
        out["queue"] = json!({ "depth": open, "pending": pending, "throughput": throughput });
        out["current"] = json!({
            "eventsTotal": end_of_log(s, hint)?,
            "queueDepth": open,
            "instancesActive": active,
            "tasksPending": pending,
            "tasksCompleted": completed,
            "metricsStartTime": figures
                .started()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        });
        out["scaling"] = json!({ "instanceCount": all });
        Ok(out)
    }))
}

/// The calls that failed for the store's sake: unavailable, or out of time.
fn store_failures(figures: &Metrics) -> u64 {
    figures.errors_with(code::STORE_UNAVAILABLE) + figures.errors_with(code::TIMEOUT)
}

/// How many instances there are, and how many of them live.
fn instance_counts(fleet: &Fleet) -> (usize, usize) {
    instances(fleet).fold((0, 0), |(all, live), e| {
        (all + 1, live + usize::from(e.verdict.state.is_live()))
    })
}

/// The mean time of the calls counted, in milliseconds to two decimals (0 without calls).
fn mean_ms(f: MethodFigures) -> f64 {
    if f.calls == 0 {
        return 0.0;
    }
    hundredths(f.seconds * 1000.0 / float(f.calls))
}

/// `part` of `whole` in percent, to two decimals (100 of nothing).
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 100.0;
    }
    hundredths(float(part) * 100.0 / float(whole))
}

/// A count as a float (beyond `u32::MAX` it saturates: these are figures, not ledgers).
fn float(n: u64) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn hundredths(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The server's resident memory in MB, from `/proc/self/status` (`None` where there is none).
fn resident_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(hundredths(f64::from(kb) / 1024.0))
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
        "id": shown(&s.id),
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
        "assignedTo": holder.map(|h| shown(h)),
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
    fn figures_are_rounded_and_never_divide_by_nothing() {
        let f = MethodFigures {
            calls: 3,
            errors: 0,
            seconds: 0.001,
        };
        for (got, want) in [
            (percent(0, 0), 100.0),
            (percent(1, 3), 33.33),
            (mean_ms(MethodFigures::default()), 0.0),
            (mean_ms(f), 0.33),
        ] {
            assert!((got - want).abs() < 1e-9, "{got} is not {want}");
        }
    }

    #[test]
    fn memory_is_read_where_the_system_says() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(resident_mb().is_some_and(|mb| mb > 0.0));
        }
    }
}
