//! coord's own `session.*` methods, mirroring the command line: `session.register` is `coord
//! register`, `session.heartbeat` is `coord heartbeat`, `session.unregister` is `coord
//! unregister`, `session.list` is `coord ps --json` and `session.show` is `coord show --json`
//! (the same documents). Durations are milliseconds.

use std::collections::BTreeMap;

use coord_core::{Beat, Phase, PolicyOverrides, Runtime, Source, State};
use coord_service::{RegisterRequest, ServiceError, json as shapes};
use serde::Deserialize;
use serde_json::{Value, json};

use super::schema::{Field, NAME, OBJECT, STRING, Schema, Signature};
use super::{Answer, Context, Named, Prepared, Work, non_empty, parse};
use crate::rpc::RpcError;
use crate::work::{Beaten, Then};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterParams {
    id: String,
    task: Option<String>,
    pid: Option<u32>,
    runtime: Option<Runtime>,
    cwd: Option<String>,
    log: Option<String>,
    parent: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    restart: bool,
    ttl: Option<u64>,
    stale_after: Option<u64>,
    active_window: Option<u64>,
    tool_timeout: Option<u64>,
    host_lost_after: Option<u64>,
}

/// The names of the runtimes.
pub const RUNTIMES: &[&str] = &["claude", "codex", "pi", "shell", "other"];

/// The names of the states.
pub const STATES: &[&str] = &[
    "active",
    "in-tool",
    "blocked",
    "limited",
    "background",
    "idle",
    "stale",
    "unknown",
    "dead",
    "ended",
];

/// A session as `coord show --json` prints it (its main fields).
const SESSION: Schema = Schema::Object(&[
    Field::required("id", NAME),
    Field::required("incarnation", Schema::Number),
    Field::required("state", Schema::Enum(STATES)),
    Field::required("reason", STRING),
    Field::required("runtime", Schema::Enum(RUNTIMES)),
    Field::required("host", STRING),
    Field::required("labels", Schema::Record(&STRING)),
    Field::required("last_seen_ms", Schema::Number),
]);

/// A session's counters after a change.
const COUNTERS: Schema = Schema::Object(&[
    Field::required("id", NAME),
    Field::required("incarnation", Schema::Number),
]);

/// What `session.register` takes and gives.
pub static REGISTER: Signature = Signature {
    input: Schema::Object(&[
        Field::required("id", NAME),
        Field::optional("task", STRING),
        Field::optional("pid", Schema::Number),
        Field::optional("runtime", Schema::Enum(RUNTIMES)),
        Field::optional("cwd", STRING),
        Field::optional("log", STRING),
        Field::optional("parent", STRING),
        Field::optional("labels", Schema::Record(&STRING)),
        Field::optional("restart", Schema::Boolean),
        Field::optional("ttl", Schema::Number),
        Field::optional("staleAfter", Schema::Number),
        Field::optional("activeWindow", Schema::Number),
        Field::optional("toolTimeout", Schema::Number),
        Field::optional("hostLostAfter", Schema::Number),
    ]),
    output: COUNTERS,
    writes: true,
};

/// `session.register {id, task?, pid?, runtime?, cwd?, log?, parent?, labels?, restart?, ttl?,
/// staleAfter?, activeWindow?, toolTimeout?, hostLostAfter?}` → `{id, incarnation}`. A `pid` must be a running
/// process of the server's host (its start time is read so a recycled PID is never taken for
/// it).
pub fn register(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: RegisterParams = parse(params)?;
    non_empty("id", &p.id)?;
    let req = RegisterRequest {
        id: Some(p.id),
        parent: p.parent,
        pid: p.pid,
        runtime: p.runtime,
        task: p.task,
        cwd: p.cwd.map(Into::into),
        labels: p.labels,
        log_path: p.log.map(Into::into),
        policy: PolicyOverrides {
            active_window: p.active_window,
            stale_after: p.stale_after,
            tool_timeout: p.tool_timeout,
            ttl: p.ttl,
            host_lost_after: p.host_lost_after,
        },
        source: Some(Source::Api),
        restart: p.restart,
        ..RegisterRequest::default()
    };
    Ok(Prepared::change(
        "id",
        Work::run(move |s| {
            let session = s.register(req)?;
            Ok(Answer::later(
                move || json!({ "id": session.id, "incarnation": session.incarnation }),
            ))
        }),
    ))
}

/// The phase a heartbeat reports.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum PhaseParam {
    Working,
    InTool,
    Waiting,
}

/// What `session.heartbeat` takes and gives.
pub static HEARTBEAT: Signature = Signature {
    input: Schema::Object(&[
        Field::required("id", NAME),
        Field::optional("phase", Schema::Enum(&["working", "in-tool", "waiting"])),
        Field::optional("tool", STRING),
        Field::optional("progress", Schema::Any),
        Field::optional("lead", Schema::Boolean),
    ]),
    output: Schema::Object(&[
        Field::required("id", NAME),
        Field::required("incarnation", Schema::Number),
        Field::required("beats", Schema::Number),
        Field::optional("leader", Schema::Boolean),
        Field::optional("leaderId", STRING),
    ]),
    writes: true,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeartbeatParams {
    id: String,
    phase: Option<PhaseParam>,
    tool: Option<String>,
    progress: Option<Value>,
    #[serde(default)]
    lead: bool,
}

/// `session.heartbeat {id, phase?, tool?, progress?, lead?}` → `{id, incarnation, beats}`,
/// with `leader` (whether it leads) and `leaderId` when `lead` is asked. -32004 when the
/// session is not registered.
pub fn heartbeat(params: Named<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: HeartbeatParams = parse(params)?;
    non_empty("id", &p.id)?;
    let metrics = ctx.metrics.clone();
    let HeartbeatParams {
        id,
        phase,
        tool,
        progress,
        lead,
    } = p;
    let beat = Box::new(move |now| Beat {
        phase: phase.map(|phase| match phase {
            PhaseParam::Working => Phase::Working,
            PhaseParam::Waiting => Phase::Waiting,
            PhaseParam::InTool => Phase::InTool {
                tool: tool.unwrap_or_else(|| "tool".to_owned()),
                since: now,
            },
        }),
        progress,
        ..Beat::activity(Source::Api, now)
    });
    let then: Then<Beaten> = Box::new(move |beaten| {
        let Beaten {
            session,
            leadership,
        } = beaten?;
        metrics.heartbeats(1);
        Ok(Answer::later(move || {
            let mut answer = json!({
                "id": session.id,
                "incarnation": session.incarnation,
                "beats": session.beats,
            });
            if let Some(leadership) = leadership {
                answer["leader"] = leadership.is(&session.id).into();
                answer["leaderId"] = leadership.leader.map(|(id, _)| id).into();
            }
            answer
        }))
    });
    Ok(Prepared::change(
        "id",
        Work::Beat {
            id,
            beat,
            lead,
            then,
        },
    ))
}

#[derive(Deserialize)]
struct IdParams {
    id: String,
}

/// The parameters of a method that names one session.
const ONE: Schema = Schema::Object(&[Field::required("id", NAME)]);

/// What `session.unregister` takes and gives.
pub static UNREGISTER: Signature = Signature {
    input: ONE,
    output: Schema::Object(&[
        Field::required("id", NAME),
        Field::required("incarnation", Schema::Number),
        Field::required("ended", Schema::Boolean),
    ]),
    writes: true,
};

/// `session.unregister {id}` → `{id, incarnation, ended: true}`; -32004 when it is not
/// registered.
pub fn unregister(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: IdParams = parse(params)?;
    non_empty("id", &p.id)?;
    Ok(Prepared::change(
        "id",
        Work::run(move |s| {
            let session = s.unregister(&p.id, Source::Api)?;
            Ok(Answer::later(
                move || json!({ "id": session.id, "incarnation": session.incarnation, "ended": true }),
            ))
        }),
    ))
}

/// What `session.list` takes and gives.
pub static LIST: Signature = Signature {
    input: Schema::Object(&[
        Field::optional("all", Schema::Boolean),
        Field::optional("state", Schema::Array(&Schema::Enum(STATES))),
    ]),
    output: Schema::Object(&[
        Field::required("now_ms", Schema::Number),
        Field::required("namespace", STRING),
        Field::required("sessions", Schema::Array(&SESSION)),
    ]),
    writes: false,
};

#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    all: bool,
    #[serde(default)]
    state: Vec<State>,
}

/// `session.list {all?, state?}` → the document of `coord ps --json`: `{now, now_ms,
/// namespace, sessions}`. Ended sessions only with `all`; `state` keeps only those states.
pub fn list(params: Named<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: ListParams = parse(params)?;
    let namespace = ctx.namespace.clone();
    Ok(Prepared::new("id", move |s| {
        let fleet = s.fleet()?;
        let shows = |state: State| {
            if p.state.is_empty() {
                p.all || state != State::Ended
            } else {
                p.state.contains(&state)
            }
        };
        let sessions: Vec<Value> = fleet
            .entries
            .iter()
            .filter(|e| shows(e.verdict.state))
            .map(shapes::entry)
            .collect();
        Ok(shapes::document(
            fleet.now,
            json!({ "namespace": namespace, "sessions": sessions }),
        ))
    }))
}

/// What `session.show` takes and gives.
pub static SHOW: Signature = Signature {
    input: ONE,
    output: Schema::Object(&[
        Field::required("now_ms", Schema::Number),
        Field::required("session", SESSION),
        Field::required("events", Schema::Array(&OBJECT)),
    ]),
    writes: false,
};

/// `session.show {id}` → the document of `coord show --json`: `{now, now_ms, session,
/// events}`; -32004 when there is no such session.
pub fn show(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: IdParams = parse(params)?;
    non_empty("id", &p.id)?;
    Ok(Prepared::new("id", move |s| {
        let report = s
            .report(&p.id)?
            .ok_or_else(|| ServiceError::NotRegistered(p.id.clone()))?;
        let events: Vec<Value> = report.events.iter().map(shapes::event).collect();
        Ok(shapes::document(
            report.now,
            json!({ "session": shapes::entry(&report.entry), "events": events }),
        ))
    }))
}
