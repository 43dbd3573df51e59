//! From a body to its answers, the same for HTTP and the WebSocket: read the envelope, then for
//! each call find the method, count it against the caller's rate limit, read its parameters,
//! and run its work through the gate (pool, breaker, time budget). Changes of the store run as
//! a group of the store's changes ([`crate::gate::Gate::change`]); the changes of a batch run
//! in one group, in order. Answers keep the batch's order; notifications run and are not
//! answered, even when they fail.

use std::net::IpAddr;
use std::time::Instant;

use serde_json::{Value, json};

use crate::App;
use crate::gate::GateError;
use coord_service::ServiceError;

use crate::methods::{self, Fallback, Method, Prepared};
use crate::rpc::{self, Id, Incoming, Params, Request, Response, RpcError, code};
use crate::ws::Link;

/// What a body gets back.
#[derive(Debug)]
pub enum Reply {
    /// Nothing: only notifications (HTTP 204).
    Nothing,
    /// One answer.
    One(Response),
    /// A batch's answers, in the order of its requests.
    Many(Vec<Response>),
}

impl Reply {
    /// The answer as JSON text; `None` when there is nothing to send.
    #[must_use]
    pub fn to_json(&self) -> Option<String> {
        let text = match self {
            Reply::Nothing => return None,
            Reply::One(r) => serde_json::to_string(r),
            Reply::Many(rs) => serde_json::to_string(rs),
        };
        // A response holds only JSON values and strings: it always serializes.
        text.ok()
    }
}

/// Answers a body from `client`; `link` is the WebSocket it came on, if any.
pub async fn handle(app: &App, body: &[u8], client: IpAddr, link: Option<&Link>) -> Reply {
    match rpc::read(body, app.max_batch) {
        Err(e) | Ok(Incoming::Single(Err(e))) => Reply::One(Response::error(Id::null(), e)),
        Ok(Incoming::Single(Ok(req))) => call(app, req, client, link)
            .await
            .map_or(Reply::Nothing, Reply::One),
        Ok(Incoming::Batch(members)) => {
            let answers: Vec<Response> = batch(app, members, client, link)
                .await
                .into_iter()
                .flatten()
                .collect();
            if answers.is_empty() {
                Reply::Nothing
            } else {
                Reply::Many(answers)
            }
        }
    }
}

/// A call read and admitted, and what became of it so far.
struct Member {
    id: Option<Id>,
    method: &'static str,
    start: Instant,
    stage: Stage,
}

enum Stage {
    /// Answered already (refused before running, or run on its own).
    Done(Result<Value, RpcError>),
    /// Ready to run with the others on the server's namespace.
    Ready(Prepared),
}

/// Runs a batch. The members that are changes of the store on the server's namespace run
/// together, in order, as one group of the store's changes (one write transaction on the
/// embedded store: a batch of heartbeats costs at most one commit); the others (reads of the
/// fleet, a subscription, another namespace's store operation) run on their own, first.
/// Answers keep the batch's order.
async fn batch(
    app: &App,
    members: Vec<Result<Request<'_>, RpcError>>,
    client: IpAddr,
    link: Option<&Link>,
) -> Vec<Option<Response>> {
    let mut read = Vec::with_capacity(members.len());
    for member in members {
        read.push(match member {
            Err(e) => Member {
                id: Some(Id::null()),
                method: "unknown",
                start: Instant::now(),
                stage: Stage::Done(Err(e)),
            },
            Ok(req) => admit(app, req, client, link).await,
        });
    }
    let mut group = Vec::new();
    let mut shapes = Vec::new();
    for (i, m) in read.iter_mut().enumerate() {
        if matches!(&m.stage, Stage::Ready(p) if p.namespace.is_none() && p.change) {
            let Stage::Ready(p) = std::mem::replace(&mut m.stage, Stage::Done(Ok(Value::Null)))
            else {
                unreachable!("matched above")
            };
            group.push(p.work);
            shapes.push((i, p.fallback, p.id_field));
        }
    }
    for m in &mut read {
        if let Stage::Ready(_) = &m.stage {
            let Stage::Ready(p) = std::mem::replace(&mut m.stage, Stage::Done(Ok(Value::Null)))
            else {
                unreachable!("matched above")
            };
            m.stage = Stage::Done(run_prepared(app, p).await);
        }
    }
    if !group.is_empty() {
        let outcome = app.gate.change(app.budget, group).await;
        match outcome {
            Ok(results) => {
                for ((i, fallback, id_field), result) in shapes.into_iter().zip(results) {
                    read[i].stage = Stage::Done(answer(
                        result.map_err(GateError::Service),
                        fallback,
                        id_field,
                    ));
                }
            }
            Err(e) => {
                for (i, fallback, id_field) in shapes {
                    read[i].stage = Stage::Done(failure(&e, fallback, id_field));
                }
            }
        }
    }
    read.into_iter().map(|m| finish(app, m)).collect()
}

/// Runs one call; its answer unless it is a notification.
async fn call(
    app: &App,
    req: Request<'_>,
    client: IpAddr,
    link: Option<&Link>,
) -> Option<Response> {
    let mut member = admit(app, req, client, link).await;
    if let Stage::Ready(p) = member.stage {
        member.stage = Stage::Done(run_prepared(app, p).await);
    }
    finish(app, member)
}

/// Counts a finished call in the metrics and gives its answer, unless it is a notification.
fn finish(app: &App, m: Member) -> Option<Response> {
    let Stage::Done(outcome) = m.stage else {
        unreachable!("every member is run before it is finished")
    };
    app.metrics.call(
        m.method,
        m.start.elapsed(),
        outcome.as_ref().err().map(|e| e.code),
    );
    m.id.map(|id| Response::new(id, outcome))
}

/// Finds the method, counts the call against the caller's allowance and reads its parameters;
/// a subscription is served here, at once.
async fn admit(app: &App, req: Request<'_>, client: IpAddr, link: Option<&Link>) -> Member {
    let start = Instant::now();
    let method = Method::find(&req.method);
    let stage = match prepare(app, method, &req.method, req.params, client, link).await {
        Ok(Stage::Ready(p)) => Stage::Ready(p),
        Ok(done @ Stage::Done(_)) => done,
        Err(e) => Stage::Done(Err(e)),
    };
    Member {
        id: req.id,
        method: method.map_or("unknown", Method::name),
        start,
        stage,
    }
}

async fn prepare(
    app: &App,
    method: Option<Method>,
    name: &str,
    params: Params<'_>,
    client: IpAddr,
    link: Option<&Link>,
) -> Result<Stage, RpcError> {
    let method = method.ok_or_else(|| RpcError::method_not_found(name))?;
    let named = match params {
        Params::Named(m) => m,
        Params::Positional => None,
    };
    if !app.limit.admit(named, client) {
        app.metrics.rate_limited();
        return Err(RpcError {
            code: code::RATE_LIMITED,
            message: format!(
                "Rate limited: more than {} calls in a minute for this instance",
                app.limit.allowance()
            ),
            data: Some(json!({ "perMinute": app.limit.allowance() })),
        });
    }
    if let (Method::EventsSubscribe, Some(link)) = (method, link) {
        return Ok(Stage::Done(link.subscribe(app, params).await));
    }
    methods::prepare(method, name, params, &app.methods).map(Stage::Ready)
}

/// Runs one prepared call through the gate: a change of the server's namespace as a group of
/// one, anything else on its own.
async fn run_prepared(app: &App, p: Prepared) -> Result<Value, RpcError> {
    let Prepared {
        work,
        fallback,
        id_field,
        namespace,
        change,
    } = p;
    let outcome = if change && namespace.is_none() {
        app.gate
            .change(app.budget, vec![work])
            .await
            .and_then(|results| {
                results
                    .into_iter()
                    .next()
                    .ok_or(GateError::Panicked)?
                    .map_err(GateError::Service)
            })
    } else {
        app.gate
            .call_in(namespace.as_deref(), app.budget, |s| work.call(s))
            .await
    };
    answer(outcome, fallback, id_field)
}

/// The answer to a call from what the gate returned: the result, the documented fallback of a
/// call out of time (or of one whose store is unavailable, when it says so), or the error
/// object.
pub(crate) fn answer(
    outcome: Result<impl Into<Value>, GateError>,
    fallback: Option<Fallback>,
    id_field: &str,
) -> Result<Value, RpcError> {
    match outcome {
        Ok(v) => Ok(v.into()),
        Err(e) => failure(&e, fallback, id_field),
    }
}

/// The answer to a call that did not get the service's result.
fn failure(e: &GateError, fallback: Option<Fallback>, id_field: &str) -> Result<Value, RpcError> {
    let down = matches!(
        e,
        GateError::Open
            | GateError::Unavailable(_)
            | GateError::GroupFailed(_)
            | GateError::Service(ServiceError::Store(_))
    );
    if let Some(f) = fallback
        && (matches!(e, GateError::Timeout(_)) || (down && f.when_down))
    {
        return Ok(f.answer);
    }
    match e {
        GateError::Service(e) => Err(methods::refusal(e, id_field)),
        GateError::Timeout(_) => Err(RpcError::new(code::TIMEOUT, format!("Timeout: {e}"))),
        GateError::Open | GateError::Unavailable(_) | GateError::GroupFailed(_) => Err(
            RpcError::new(code::STORE_UNAVAILABLE, format!("Store unavailable: {e}")),
        ),
        GateError::Panicked => Err(RpcError::internal(e)),
    }
}
