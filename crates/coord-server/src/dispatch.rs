//! From a body to its answers, the same for HTTP and the WebSocket: read the envelope, then for
//! each call find the method, count it against the caller's rate limit, read its parameters,
//! and run its work through the gate (pool, breaker, time budget). The members of a batch run
//! concurrently and are answered in order; notifications run and are not answered, even when
//! they fail.

use std::net::IpAddr;
use std::time::Instant;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::App;
use crate::gate::GateError;
use crate::methods::{self, Method, Prepared};
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
            let answers = join_all(members.into_iter().map(|m| async move {
                match m {
                    Err(e) => Some(Response::error(Id::null(), e)),
                    Ok(req) => call(app, req, client, link).await,
                }
            }))
            .await;
            let answers: Vec<Response> = answers.into_iter().flatten().collect();
            if answers.is_empty() {
                Reply::Nothing
            } else {
                Reply::Many(answers)
            }
        }
    }
}

/// Runs one call; its answer unless it is a notification.
async fn call(app: &App, req: Request, client: IpAddr, link: Option<&Link>) -> Option<Response> {
    let start = Instant::now();
    let method = Method::find(&req.method);
    let outcome = run(app, method, &req.method, req.params, client, link).await;
    app.metrics.call(
        method.map_or("unknown", Method::name),
        start.elapsed(),
        outcome.as_ref().err().map(|e| e.code),
    );
    req.id.map(|id| Response::new(id, outcome))
}

async fn run(
    app: &App,
    method: Option<Method>,
    name: &str,
    params: Params,
    client: IpAddr,
    link: Option<&Link>,
) -> Result<Value, RpcError> {
    let method = method.ok_or_else(|| RpcError::method_not_found(name))?;
    let named = match &params {
        Params::Named(m) => Some(m),
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
        return link.subscribe(app, params).await;
    }
    let Prepared {
        work,
        fallback,
        id_field,
    } = methods::prepare(method, params, &app.methods)?;
    answer(app.gate.call(app.budget, work).await, fallback, id_field)
}

/// The answer to a call from what the gate returned: the result, the documented fallback of a
/// call out of time, or the error object.
pub(crate) fn answer(
    outcome: Result<Value, GateError>,
    fallback: Option<Value>,
    id_field: &str,
) -> Result<Value, RpcError> {
    match outcome {
        Ok(v) => Ok(v),
        Err(GateError::Service(e)) => Err(methods::refusal(&e, id_field)),
        Err(e @ GateError::Timeout(_)) => {
            fallback.ok_or_else(|| RpcError::new(code::TIMEOUT, format!("Timeout: {e}")))
        }
        Err(e @ (GateError::Open | GateError::Unavailable(_))) => Err(RpcError::new(
            code::STORE_UNAVAILABLE,
            format!("Store unavailable: {e}"),
        )),
        Err(e @ GateError::Panicked) => Err(RpcError::internal(e)),
    }
}
