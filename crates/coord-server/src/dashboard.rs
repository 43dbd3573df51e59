//! `GET /`: the dashboard, a page for people that shows the fleet live: every session with its
//! state and why, the hosts, the task queue and the event log, with filters by state, host and
//! label.
//!
//! The page is three hand-written files embedded in the binary (no build step, no CDN, nothing
//! fetched at run time). It holds no data, so it is served without the token; everything it
//! shows comes over the WebSocket `/ws`, which does need it (see [`crate::auth`]). The page
//! decides nothing: it asks `session.list` and `host.list` for the states (which only the
//! service decides: `classify` for sessions, `Hosts::judge` for hosts) whenever
//! `events.subscribe` pushes an event, and every few seconds for the states that change with
//! time alone.

use axum::Router;
use axum::http::{HeaderName, header};
use axum::response::IntoResponse;
use axum::routing::get;

const HTML: &str = include_str!("../assets/dashboard.html");
const CSS: &str = include_str!("../assets/dashboard.css");
const JS: &str = include_str!("../assets/dashboard.js");

/// What the page may load and connect to: its own files and its own server, nothing else.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The page and its assets (`/`, `/dashboard.css`, `/dashboard.js`), served to anyone.
pub fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", HTML) }),
        )
        .route(
            "/dashboard.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/dashboard.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
}

/// One embedded file with its type; revalidated on every load, so a new server's page is
/// never mixed with an old one's script.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    (headers, body)
}
