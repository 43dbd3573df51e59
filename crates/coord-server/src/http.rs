//! The HTTP routes and their layers: `POST /rpc` and `POST /rpc/batch` (the same handler: a
//! request or a batch on either, since ClaudeBench's web client sends batches to `/rpc`),
//! `GET /ws`, `GET /healthz`, `GET /metrics`, and the dashboard (`GET /` and its assets, see
//! [`dashboard`]).
//!
//! JSON-RPC errors come with HTTP 200; a body with nothing to answer (only notifications)
//! gets 204; a body over [`MAX_BODY`] gets 413, and one not sent as `application/json` 415,
//! each with a JSON-RPC error. With a token, every route but
//! the dashboard's files (which hold no data) is behind [`auth::require`]; with
//! `--allow-origin`, every route is behind [`cors::apply`], outside the token's check.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::auth::{self, Token};
use crate::rpc::{Id, Response as RpcResponse, RpcError};
use crate::{App, MAX_BODY, REQUEST_TIMEOUT, cors, dashboard, dispatch, ws};

/// Every route, with its layers.
pub fn router(app: Arc<App>, token: Option<Token>) -> Router {
    let rpc = Router::new()
        .route("/rpc", post(rpc))
        .route("/rpc/batch", post(rpc))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::map_response(explain_too_large));
    let origins = app.origins.clone();
    let api = Router::new()
        .merge(rpc)
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(app);
    let api = match token {
        Some(token) => api.layer(middleware::from_fn_with_state(token, auth::require)),
        None => api,
    };
    let all = api.merge(dashboard::routes());
    let all = if origins.any() {
        all.layer(middleware::from_fn_with_state(origins, cors::apply))
    } else {
        all
    };
    all.layer(CatchPanicLayer::new())
}

/// `POST /rpc`, `POST /rpc/batch`.
async fn rpc(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !auth::is_json(headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes)) {
        let e =
            RpcError::invalid_request("the body must be sent as Content-Type: application/json");
        return json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &RpcResponse::error(Id::null(), e),
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(e) => {
            let answer = RpcResponse::error(Id::null(), RpcError::parse_error(e.body_text()));
            return json_response(StatusCode::OK, &answer);
        }
    };
    match dispatch::handle(&app, &body, peer.ip(), None)
        .await
        .to_json()
    {
        Some(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// The JSON-RPC error for a body over the limit, whichever layer found it.
async fn explain_too_large(response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        response
    }
}

fn too_large() -> Response {
    let e = RpcError {
        data: Some(json!({ "maxBytes": MAX_BODY })),
        ..RpcError::invalid_request(format!("the body is over {MAX_BODY} bytes"))
    };
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &RpcResponse::error(Id::null(), e),
    )
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// `GET /healthz`: 200 when the store answers (with the leader and the breaker's state), 503
/// otherwise.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let breaker = app.gate.breaker().state().name();
    match app
        .gate
        .call(app.budget, coord_service::Service::leadership)
        .await
    {
        Ok(l) => json_response(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "store": "up",
                "breaker": breaker,
                "leader": l.leader.map(|(id, term)| json!({ "instanceId": id, "term": term })),
            }),
        ),
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "unavailable", "store": "down", "breaker": breaker, "error": e.to_string() }),
        ),
    }
}

/// `GET /metrics`: the Prometheus text, with the fleet judged now (the last known counts if
/// the store does not answer), and the changes of state since the last scrape.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let states = app
        .gate
        .call(app.budget, |s| {
            Ok(s.fleet()?
                .entries
                .into_iter()
                .map(|e| (e.session.id, e.verdict.state))
                .collect::<Vec<_>>())
        })
        .await;
    if let Ok(states) = states {
        app.metrics.fleet(&states);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
