//! The JSON-RPC 2.0 envelope, to the letter: reading a body into requests (one or a batch),
//! the error codes, and the responses.
//!
//! A body is read as raw JSON, borrowed where it lies: a batch once into its members, each
//! member once into its fields, and the parameters later, once, into the method's own type.
//! Every member of a batch is checked on its own, and a request's `id` is kept exactly as the
//! client wrote it (a string, a number, `null`), so the answer echoes it byte for byte. A
//! member without an `id` is a notification and gets no answer, even when it fails; a member
//! that is not a valid request is answered with -32600 and a `null` id, since its id cannot be
//! trusted.

use std::borrow::Cow;
use std::fmt;

use serde::ser::Serializer;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The error codes: JSON-RPC's own, then coord's (-32000 and below). ClaudeBench reserves
/// -32002 for "unauthorized"; coord never sends it: a request without the token gets HTTP 401
/// and no body.
pub mod code {
    /// The body is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON is not a valid request (or an empty or oversized batch, or an oversized body).
    pub const INVALID_REQUEST: i64 = -32600;
    /// No method of this name.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// A parameter is missing, of the wrong type or out of range; `data.field` names it (for
    /// the `system.*` methods, `data` is zod's issues, as ClaudeBench sends them).
    pub const INVALID_PARAMS: i64 = -32602;
    /// A fault of the server itself.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Too many calls for this instance (or client address) in the last minute.
    pub const RATE_LIMITED: i64 = -32000;
    /// The store failed, or the circuit breaker toward it is open.
    pub const STORE_UNAVAILABLE: i64 = -32001;
    /// The session is not registered (or no longer takes signals).
    pub const NOT_REGISTERED: i64 = -32004;
    /// The fencing token is not the current claim's: the work was handed on.
    pub const STALE_TOKEN: i64 = -32005;
    /// The call did not finish within its time budget.
    pub const TIMEOUT: i64 = -32006;
    /// The service refused the call (a task not pending, no such task, nothing to claim…).
    pub const REFUSED: i64 = -32010;
}

/// An error object: a code, a short message, and details for a program.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RpcError {
    /// One of [`code`].
    pub code: i64,
    /// What went wrong, in one sentence.
    pub message: String,
    /// Details: the offending field for -32602, the limit for -32000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message`, no data.
    #[must_use]
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32700: the body is not JSON.
    #[must_use]
    pub fn parse_error(why: impl fmt::Display) -> Self {
        Self::new(code::PARSE_ERROR, format!("Parse error: {why}"))
    }

    /// -32600: not a valid request.
    #[must_use]
    pub fn invalid_request(why: impl fmt::Display) -> Self {
        Self::new(code::INVALID_REQUEST, format!("Invalid request: {why}"))
    }

    /// -32601: no such method.
    #[must_use]
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            code::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )
    }

    /// -32602: the parameter `field` is wrong, and why.
    #[must_use]
    pub fn invalid_params(field: &str, why: impl fmt::Display) -> Self {
        Self {
            code: code::INVALID_PARAMS,
            message: format!("Invalid params: {field}: {why}"),
            data: Some(serde_json::json!({ "field": field })),
        }
    }

    /// -32603: a fault of the server.
    #[must_use]
    pub fn internal(why: impl fmt::Display) -> Self {
        Self::new(code::INTERNAL_ERROR, format!("Internal error: {why}"))
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// A request id exactly as the client wrote it: a string, a number or `null`.
#[derive(Clone, Debug)]
pub struct Id(Option<Box<RawValue>>);

impl Id {
    /// The `null` id of answers to requests whose id could not be read.
    #[must_use]
    pub fn null() -> Self {
        Self(None)
    }

    /// Reads an id; `None` when it is not a string, a number or `null`.
    fn read(raw: &RawValue) -> Option<Self> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"' | b'-' | b'0'..=b'9') => Some(Self(Some(raw.to_owned()))),
            Some(b'n') if text == "null" => Some(Self::null()),
            _ => None,
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(raw) => raw.serialize(s),
            None => s.serialize_unit(),
        }
    }
}

/// One well-formed call, borrowed from the body it came in.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// `None` for a notification (no answer is wanted).
    pub id: Option<Id>,
    /// The method's name.
    pub method: Cow<'a, str>,
    /// The parameters; positional ones are answered with -32602 by the method table, which
    /// takes names only.
    pub params: Params<'a>,
}

/// A request's parameters as sent.
#[derive(Clone, Copy, Debug)]
pub enum Params<'a> {
    /// By name: the object as written, `None` when absent or `null` (no parameters).
    Named(Option<&'a RawValue>),
    /// By position, which no coord method takes.
    Positional,
}

/// What a body holds.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// One request (or why it is not one).
    Single(Result<Request<'a>, RpcError>),
    /// A batch: each member a request or why it is not one.
    Batch(Vec<Result<Request<'a>, RpcError>>),
}

/// Reads a body. `Err` is why a body is not JSON, or is an empty or oversized batch. Every
/// error here is answered with a `null` id.
pub fn read(body: &[u8], max_batch: usize) -> Result<Incoming<'_>, RpcError> {
    let text = std::str::from_utf8(body).map_err(RpcError::parse_error)?;
    if !text.trim_start().starts_with('[') {
        let raw: &RawValue = serde_json::from_str(text).map_err(RpcError::parse_error)?;
        return Ok(Incoming::Single(request(raw)));
    }
    let members: Vec<&RawValue> = serde_json::from_str(text).map_err(RpcError::parse_error)?;
    if members.is_empty() {
        return Err(RpcError::invalid_request("an empty batch"));
    }
    if members.len() > max_batch {
        let mut e = RpcError::invalid_request(format!(
            "a batch of {} requests; at most {max_batch} are taken",
            members.len()
        ));
        e.data = Some(serde_json::json!({ "maxBatch": max_batch }));
        return Err(e);
    }
    Ok(Incoming::Batch(members.into_iter().map(request).collect()))
}

/// The members of a request object as written (any other member is ignored).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
}

/// A member that is there, whatever it holds (`null` included).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Reads one request object.
fn request(raw: &RawValue) -> Result<Request<'_>, RpcError> {
    let invalid = RpcError::invalid_request;
    if !raw.get().starts_with('{') {
        return Err(invalid("a request is a JSON object"));
    }
    let fields: Envelope<'_> = serde_json::from_str(raw.get())
        .map_err(|_| invalid("a request is a JSON object, each of its members once"))?;
    if fields.jsonrpc.map(RawValue::get) != Some("\"2.0\"") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    let id = match fields.id {
        None => None,
        Some(raw) => {
            Some(Id::read(raw).ok_or_else(|| invalid("`id` must be a string, a number or null"))?)
        }
    };
    let method = fields
        .method
        .and_then(string_of)
        .ok_or_else(|| invalid("`method` must be a string"))?;
    let params = match fields.params.map(|raw| (raw, raw.get().as_bytes()[0])) {
        None | Some((_, b'n')) => Params::Named(None),
        Some((raw, b'{')) => Params::Named(Some(raw)),
        Some((_, b'[')) => Params::Positional,
        Some(_) => return Err(invalid("`params` must be an object, an array or null")),
    };
    Ok(Request { id, method, params })
}

/// The string a JSON value is, if it is one: borrowed when it holds no escape.
pub(crate) fn string_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Some(Cow::Borrowed(inner)),
        Some(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
        None => None,
    }
}

/// One answer.
#[derive(Clone, Debug, Serialize)]
pub struct Response {
    jsonrpc: &'static str,
    #[serde(flatten)]
    outcome: Outcome,
    id: Id,
}

#[derive(Clone, Debug, Serialize)]
enum Outcome {
    #[serde(rename = "result")]
    Result(Value),
    #[serde(rename = "error")]
    Error(RpcError),
}

impl Response {
    /// The answer to the request `id`: its result or its error.
    #[must_use]
    pub fn new(id: Id, outcome: Result<Value, RpcError>) -> Self {
        Self {
            jsonrpc: "2.0",
            outcome: match outcome {
                Ok(v) => Outcome::Result(v),
                Err(e) => Outcome::Error(e),
            },
            id,
        }
    }

    /// An error answer.
    #[must_use]
    pub fn error(id: Id, e: RpcError) -> Self {
        Self::new(id, Err(e))
    }
}

/// A notification the server pushes (no id): an event to a WebSocket subscriber.
#[derive(Serialize)]
pub struct Notification<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    params: &'a Value,
}

impl<'a> Notification<'a> {
    /// A notification of `method` with `params`.
    #[must_use]
    pub fn new(method: &'a str, params: &'a Value) -> Self {
        Self {
            jsonrpc: "2.0",
            method,
            params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_echoed_as_written() {
        for id in [r#""a""#, "7", "1.50", "-0", "null", r#""\u00e9""#] {
            let body = format!(r#"{{"jsonrpc":"2.0","method":"m","id":{id}}}"#);
            let Ok(Incoming::Single(Ok(req))) = read(body.as_bytes(), 10) else {
                panic!("{body} did not read");
            };
            let r = Response::new(req.id.unwrap(), Ok(Value::Bool(true)));
            let text = serde_json::to_string(&r).unwrap();
            assert!(text.ends_with(&format!(r#""id":{id}}}"#)), "{text}");
        }
    }

    #[test]
    fn a_request_without_id_is_a_notification() {
        let Ok(Incoming::Single(Ok(req))) = read(br#"{"jsonrpc":"2.0","method":"m"}"#, 10) else {
            panic!()
        };
        assert!(req.id.is_none());
        assert!(matches!(req.params, Params::Named(None)));
    }

    #[test]
    fn malformed_bodies_are_answered_with_the_right_code() {
        let code = |body: &str| match read(body.as_bytes(), 2) {
            Err(e) | Ok(Incoming::Single(Err(e))) => e.code,
            Ok(other) => panic!("{body}: {other:?}"),
        };
        assert_eq!(code("{"), code::PARSE_ERROR);
        assert_eq!(code("[]"), code::INVALID_REQUEST);
        assert_eq!(code("1"), code::INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"1.0","method":"m","id":1}"#),
            code::INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","method":1,"id":1}"#),
            code::INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","method":"m","id":{}}"#),
            code::INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","method":"m","params":3}"#),
            code::INVALID_REQUEST
        );
    }

    #[test]
    fn batches_are_bounded_and_read_member_by_member() {
        let Err(e) = read(br#"[{"jsonrpc":"2.0","method":"m"},1,2]"#, 2) else {
            panic!()
        };
        assert_eq!(e.data.unwrap()["maxBatch"], 2);
        let Ok(Incoming::Batch(members)) = read(br#"[{"jsonrpc":"2.0","method":"m"},1]"#, 2) else {
            panic!()
        };
        assert!(members[0].is_ok());
        assert_eq!(members[1].as_ref().unwrap_err().code, code::INVALID_REQUEST);
    }
}
