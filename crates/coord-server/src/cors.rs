//! Cross-origin calls from the web pages `coord serve --allow-origin ORIGIN` names (ClaudeBench's
//! web UI, say, served from another port): none by default, so that without the flag a browser
//! sends no cross-origin JSON body at all (see [`crate::auth`]).
//!
//! For a request whose `Origin` is allowed, tower-http's [`CorsLayer`] writes the headers: a
//! preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered at once, 204, with
//! `Access-Control-Allow-Origin` (that origin), `-Methods`, `-Headers` and `-Max-Age`, before
//! the token is asked for (a preflight carries no credentials); any other request runs as
//! usual, token and all, and its answer (a 401 too) carries `Access-Control-Allow-Origin`.
//! Every answer says `Vary: Origin`. A request from any other origin, or from none, passes
//! untouched. The same list admits a WebSocket handshake from those pages ([`crate::ws`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may keep a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(600);

/// One origin a web page may call from: `http` or `https`, a host, an optional port, as a
/// browser writes it in `Origin` (`https://bench.example:3001`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(HeaderValue);

/// A value that is not an origin.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0:?} is not an origin: write it as a browser sends it, scheme://host[:port] with http or \
     https and no path (for example http://localhost:3001)"
)]
pub struct BadOrigin(String);

impl FromStr for Origin {
    type Err = BadOrigin;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadOrigin(s.to_owned());
        let lower = s.to_ascii_lowercase();
        let authority = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
            .ok_or_else(bad)?;
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => match v6.split_once(']').ok_or_else(bad)? {
                (host, "") => (host, None),
                (host, rest) => (host, Some(rest.strip_prefix(':').ok_or_else(bad)?)),
            },
            None => authority
                .split_once(':')
                .map_or((authority, None), |(host, port)| (host, Some(port))),
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
        let port_ok =
            port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
        if !host_ok || !port_ok {
            return Err(bad());
        }
        HeaderValue::from_str(&lower).map(Self).map_err(|_| bad())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.to_str().unwrap_or_default())
    }
}

/// The origins allowed, and the layer that answers them.
#[derive(Clone)]
pub struct Origins {
    allowed: Arc<[Origin]>,
    layer: CorsLayer,
}

impl Origins {
    /// The list `--allow-origin` gave (empty: no page of another origin may call).
    #[must_use]
    pub fn new(allowed: &[Origin]) -> Self {
        let layer = CorsLayer::new()
            // Only allowed origins reach the layer (see `apply`): it names the one that asked.
            .allow_origin(AllowOrigin::mirror_request())
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
            .max_age(MAX_AGE)
            .vary([header::ORIGIN]);
        Self {
            allowed: allowed.into(),
            layer,
        }
    }

    /// Whether any origin is allowed.
    #[must_use]
    pub fn any(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// Whether a request's `Origin` header is one of the list.
    #[must_use]
    pub fn allows(&self, origin: Option<&[u8]>) -> bool {
        origin.is_some_and(|o| {
            self.allowed
                .iter()
                .any(|a| a.0.as_bytes().eq_ignore_ascii_case(o))
        })
    }
}

/// The middleware, put outside the token's ([`crate::auth::require`]) so that a preflight is
/// answered without it.
pub async fn apply(State(origins): State<Origins>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let allowed = origins.allows(headers.get(header::ORIGIN).map(HeaderValue::as_bytes));
    let preflight = request.method() == Method::OPTIONS;
    if !allowed || (preflight && !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)) {
        let mut response = next.run(request).await;
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
        return response;
    }
    let Ok(mut response) = origins.layer.layer(next).oneshot(request).await;
    if preflight {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_read_as_a_browser_writes_them() {
        for (given, kept) in [
            ("http://localhost:3001", "http://localhost:3001"),
            ("HTTPS://Bench.Example", "https://bench.example"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://10.0.0.7", "http://10.0.0.7"),
        ] {
            let o: Origin = given.parse().unwrap();
            assert_eq!(o.to_string(), kept);
        }
        for bad in [
            "",
            "*",
            "null",
            "localhost:3001",
            "ftp://x.example",
            "http://",
            "http://x.example/",
            "http://x.example/app",
            "http://x.example:port",
            "http://x.example:99999",
            "http://a b",
            "http://[::1",
            "http://user@x.example",
        ] {
            assert!(bad.parse::<Origin>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let origins = Origins::new(&["http://localhost:3001".parse().unwrap()]);
        assert!(origins.any());
        assert!(origins.allows(Some(b"http://localhost:3001")));
        assert!(origins.allows(Some(b"http://LOCALHOST:3001")));
        assert!(!origins.allows(Some(b"http://localhost:3000")));
        assert!(!origins.allows(Some(b"https://localhost:3001")));
        assert!(!origins.allows(None));
        assert!(!Origins::new(&[]).any());
    }
}
