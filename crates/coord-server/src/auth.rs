//! Who may talk to the server. It listens on loopback by default; any other address needs a
//! bearer token, and with a token every request (the RPC, the WebSocket, the metrics, the
//! health check) must carry `Authorization: Bearer <token>` or get HTTP 401 and nothing else.
//! The token is compared in constant time and never printed: its `Debug` is redacted. The
//! dashboard's page and its assets are the exception: they hold no data, and the page asks for
//! the token itself.
//!
//! A browser cannot set a header on a WebSocket, so a handshake may instead offer the token as
//! a subprotocol, [`TOKEN_PROTOCOL`] followed by the token's bytes in lowercase hex (a
//! subprotocol admits only a few characters); the server answers with the subprotocol
//! [`PROTOCOL`]. A query parameter would do too, but would leave the token in logs and history.
//!
//! A web page the user happens to visit must not drive the fleet through the user's browser
//! either: `POST /rpc` takes only `application/json` bodies (which a browser sends to another
//! origin only after a CORS preflight, which this server grants only to the origins
//! `--allow-origin` names, see [`crate::cors`]), and a WebSocket handshake that carries an
//! `Origin` (browsers always send one; programs usually none) must come from this machine or
//! one of those origins, unless it carries the token (then it is the dashboard served from
//! this server's own address, or someone who holds the secret anyway).

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The WebSocket subprotocol the server speaks (JSON-RPC 2.0), named in its handshake answer.
pub const PROTOCOL: &str = "coord";

/// The prefix of the subprotocol that carries the token in a WebSocket handshake.
pub const TOKEN_PROTOCOL: &str = "coord-token.";

/// A bearer token: the secret a client must present.
#[derive(Clone)]
pub struct Token {
    secret: Arc<str>,
    /// The subprotocol that carries it: [`TOKEN_PROTOCOL`] and the secret in lowercase hex.
    protocol: Arc<str>,
}

/// A request the token admitted (set by [`require`]): its WebSocket handshake may come from
/// any origin.
#[derive(Clone, Copy, Debug)]
pub struct Admitted;

/// A token that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the token is empty or has spaces or control characters")]
pub struct BadToken;

impl FromStr for Token {
    type Err = BadToken;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            let mut protocol = String::from(TOKEN_PROTOCOL);
            for b in s.bytes() {
                let _ = write!(protocol, "{b:02x}");
            }
            Ok(Self {
                secret: s.into(),
                protocol: protocol.into(),
            })
        } else {
            Err(BadToken)
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// Whether an `Authorization` header value carries this token.
    #[must_use]
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, given)) = value.split_at_checked(7) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(b"bearer ") && bool::from(given.ct_eq(self.secret.as_bytes()))
    }

    /// Whether a `Sec-WebSocket-Protocol` value (a comma-separated list) offers this token.
    #[must_use]
    pub fn admits_protocols(&self, offered: Option<&[u8]>) -> bool {
        offered.is_some_and(|list| {
            list.split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .filter(|p| p.starts_with(TOKEN_PROTOCOL.as_bytes()))
                .any(|p| bool::from(p.ct_eq(self.protocol.as_bytes())))
        })
    }

    /// Whether a request's headers carry this token: as a bearer token, or, on a WebSocket
    /// handshake, as a subprotocol.
    #[must_use]
    pub fn admits_request(&self, headers: &HeaderMap) -> bool {
        let bytes = |name| headers.get(name).map(axum::http::HeaderValue::as_bytes);
        let handshake = bytes(header::UPGRADE)
            .is_some_and(|u| u.trim_ascii().eq_ignore_ascii_case(b"websocket"));
        self.admits(bytes(header::AUTHORIZATION))
            || (handshake && self.admits_protocols(bytes(header::SEC_WEBSOCKET_PROTOCOL)))
    }
}

/// Whether the server may listen on `addr` with (or without) a token: loopback always, any
/// other address only with one.
#[must_use]
pub fn may_listen(addr: SocketAddr, token: Option<&Token>) -> bool {
    addr.ip().is_loopback() || token.is_some()
}

/// Whether a body of this `Content-Type` is taken: JSON only.
#[must_use]
pub fn is_json(content_type: Option<&[u8]>) -> bool {
    content_type.is_some_and(|t| {
        let essence = t.split(|&b| b == b';').next().unwrap_or_default();
        essence
            .trim_ascii()
            .eq_ignore_ascii_case(b"application/json")
    })
}

/// Whether a WebSocket handshake's `Origin` is this machine (or absent).
#[must_use]
pub fn origin_is_local(origin: Option<&[u8]>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The middleware: passes requests that carry the token (marked [`Admitted`]), answers the
/// others 401 and closes their connection. The body of a refused request is never read, so
/// the connection cannot be kept for another: the answer says so, rather than leave the client
/// to reuse a connection the server is closing.
pub async fn require(State(token): State<Token>, mut request: Request, next: Next) -> Response {
    if token.admits_request(request.headers()) {
        request.extensions_mut().insert(Admitted);
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, [(header::CONNECTION, "close")]).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_admitted() {
        let t: Token = "s3cret".parse().unwrap();
        assert!(t.admits(Some(b"Bearer s3cret")));
        assert!(t.admits(Some(b"bearer s3cret")));
        assert!(!t.admits(Some(b"Bearer s3cre")));
        assert!(!t.admits(Some(b"Bearer s3cretX")));
        assert!(!t.admits(Some(b"Basic s3cret")));
        assert!(!t.admits(Some(b"Bearer")));
        assert!(!t.admits(None));
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert!("".parse::<Token>().is_err());
        assert!("a b".parse::<Token>().is_err());
    }

    #[test]
    fn a_websocket_handshake_may_offer_the_token_as_a_subprotocol() {
        let t: Token = "s3cret".parse().unwrap();
        let hex = "coord-token.733363726574";
        assert!(t.admits_protocols(Some(hex.as_bytes())));
        assert!(t.admits_protocols(Some(format!("coord, {hex}").as_bytes())));
        assert!(!t.admits_protocols(Some(b"coord")));
        assert!(!t.admits_protocols(Some(b"coord-token.73336372657")));
        assert!(!t.admits_protocols(Some(b"coord-token.7333637265740a")));
        let z: Token = "zZ".parse().unwrap();
        assert!(z.admits_protocols(Some(b"coord-token.7a5a")));
        assert!(!z.admits_protocols(Some(b"coord-token.7A5A")));
        assert!(!t.admits_protocols(Some(b"coord-token.s3cret")));
        assert!(!t.admits_protocols(None));

        let mut headers = HeaderMap::new();
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, hex.parse().unwrap());
        assert!(!t.admits_request(&headers), "only on a WebSocket handshake");
        headers.insert(header::UPGRADE, "websocket".parse().unwrap());
        assert!(t.admits_request(&headers));
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, "coord".parse().unwrap());
        assert!(!t.admits_request(&headers));
        headers.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(t.admits_request(&headers));
    }

    #[test]
    fn only_json_bodies_and_local_origins_are_taken() {
        assert!(is_json(Some(b"application/json")));
        assert!(is_json(Some(b"Application/JSON; charset=utf-8")));
        assert!(!is_json(Some(b"text/plain")));
        assert!(!is_json(None));
        for local in [
            None,
            Some(&b"http://localhost:3000"[..]),
            Some(b"http://127.0.0.1"),
            Some(b"https://[::1]:8080/x"),
        ] {
            assert!(origin_is_local(local), "{local:?}");
        }
        for foreign in [
            &b"https://evil.example"[..],
            b"http://localhost.evil.example",
            b"null",
            b"http://10.0.0.1:7077",
        ] {
            assert!(!origin_is_local(Some(foreign)), "{foreign:?}");
        }
    }

    #[test]
    fn only_loopback_is_open_without_a_token() {
        let t: Token = "x".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:7077".parse().unwrap();
        let lo6: SocketAddr = "[::1]:7077".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:7077".parse().unwrap();
        assert!(may_listen(lo, None) && may_listen(lo6, None));
        assert!(!may_listen(any, None));
        assert!(may_listen(any, Some(&t)));
    }
}
