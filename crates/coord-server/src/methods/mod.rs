//! The method table: every JSON-RPC method the server answers, its parameters, and the work it
//! runs on a service handle. The server adds transport, not logic: each method reads its
//! parameters, then calls the service and shapes the answer.
//!
//! - [`system`]: the ClaudeBench `system.*` family, with its exact parameters and results.
//! - [`session`]: coord's own `session.*`, mirroring `coord register|heartbeat|unregister|ps|show`.
//! - [`task`]: `task.*`, mirroring `coord task`.
//! - [`host`]: `host.list`, mirroring `coord hosts`.
//! - [`events`]: `events.list` (and the parameters of `events.subscribe`, which the WebSocket
//!   serves).
//! - [`store`]: `store.*`, the store operations of a command line pointed at this server.
//!
//! Parameters are named (an object; absent or `null` is `{}`), camelCase, and fields a method
//! does not know are ignored. A parameter that is missing or of the wrong type is answered
//! with -32602 naming it.

pub mod events;
pub mod host;
pub mod session;
pub mod store;
pub mod system;
pub mod task;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use coord_core::TaskError;
use coord_service::{Service, ServiceError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::metrics::Metrics;
use crate::rpc::{Params, RpcError, code};
pub use crate::work::{Answer, Work};

/// A call whose parameters were read, ready to run.
pub struct Prepared {
    /// The work.
    pub work: Work,
    /// What a ClaudeBench client gets when the call runs out of time (its documented
    /// fallback); `None`: the call is answered with -32006.
    pub fallback: Option<Value>,
    /// The parameter that names the session, for an error about an invalid id.
    pub id_field: &'static str,
    /// The namespace to run on, when it is not the server's own.
    pub namespace: Option<String>,
    /// Whether the work is a short change of the store and nothing else (no process table, no
    /// files, no whole-fleet read), which may run in one group of changes with other calls'
    /// (see [`crate::gate::Gate::change`]).
    pub change: bool,
}

impl Prepared {
    /// Work without a fallback, its session named by `id_field`, run on its own.
    fn new(
        id_field: &'static str,
        work: impl FnOnce(&Service) -> Result<Value, ServiceError> + Send + 'static,
    ) -> Self {
        Self {
            work: Work::run(move |s| work(s).map(Answer::Ready)),
            fallback: None,
            id_field,
            namespace: None,
            change: false,
        }
    }

    /// Work that is a short change of the store and nothing else, which may run in a group
    /// with other calls' changes (on the store's one writer, which is why it may answer
    /// [`Answer::Later`]).
    fn change(id_field: &'static str, work: Work) -> Self {
        Self {
            work,
            fallback: None,
            id_field,
            namespace: None,
            change: true,
        }
    }

    /// The same on `namespace`.
    fn within(mut self, namespace: String) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// The same, answered with `fallback` when out of time.
    fn or_else(mut self, fallback: Value) -> Self {
        self.fallback = Some(fallback);
        self
    }
}

/// What methods need from the server besides a service handle.
#[derive(Clone)]
pub struct Context {
    /// The metrics that calls feed (heartbeats, evictions, reassignments).
    pub metrics: Metrics,
    /// The namespace the server works on (shown in `session.list` and `host.list`).
    pub namespace: String,
    /// A recent sequence number of the event log, no later than its end: where a search for
    /// the end starts.
    pub seq_hint: Arc<AtomicU64>,
}

impl Context {
    /// The latest event's sequence number known to the server.
    #[must_use]
    pub fn seq_hint(&self) -> u64 {
        self.seq_hint.load(Ordering::Relaxed)
    }
}

macro_rules! methods {
    ($($variant:ident => $name:literal,)*) => {
        /// A method the server knows.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Method {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Method {
            /// The method called `name`, if any (every `store.<op>` is [`Method::Store`]).
            #[must_use]
            pub fn find(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Method::$variant),)*
                    _ if name.starts_with(coord_store::remote::METHOD_PREFIX) => {
                        Some(Method::Store)
                    }
                    _ => None,
                }
            }

            /// Its name.
            #[must_use]
            pub fn name(self) -> &'static str {
                match self {
                    $(Method::$variant => $name,)*
                }
            }
        }
    };
}

methods! {
    SystemRegister => "system.register",
    SystemHeartbeat => "system.heartbeat",
    SystemUnregister => "system.unregister",
    SystemCheckHealth => "system.check_health",
    SystemGetState => "system.get_state",
    SessionRegister => "session.register",
    SessionHeartbeat => "session.heartbeat",
    SessionUnregister => "session.unregister",
    SessionList => "session.list",
    SessionShow => "session.show",
    TaskAdd => "task.add",
    TaskClaim => "task.claim",
    TaskProgress => "task.progress",
    TaskComplete => "task.complete",
    TaskFail => "task.fail",
    TaskRelease => "task.release",
    TaskList => "task.list",
    TaskShow => "task.show",
    HostList => "host.list",
    EventsList => "events.list",
    EventsSubscribe => "events.subscribe",
    Store => "store.*",
}

/// Reads the parameters of a call of `method` (called `name`) and prepares its work.
/// `events.subscribe` is the WebSocket's own (see [`crate::ws`]): elsewhere it is not found.
pub fn prepare(
    method: Method,
    name: &str,
    params: Params,
    ctx: &Context,
) -> Result<Prepared, RpcError> {
    let params = named(params)?;
    match method {
        Method::Store => store::prepare(name, params),
        Method::SystemRegister => system::register(params),
        Method::SystemHeartbeat => system::heartbeat(params, ctx),
        Method::SystemUnregister => system::unregister(params, ctx),
        Method::SystemCheckHealth => system::check_health(params, ctx),
        Method::SystemGetState => Ok(system::get_state(ctx)),
        Method::SessionRegister => session::register(params),
        Method::SessionHeartbeat => session::heartbeat(params, ctx),
        Method::SessionUnregister => session::unregister(params),
        Method::SessionList => session::list(params, ctx),
        Method::SessionShow => session::show(params),
        Method::TaskAdd => task::add(params),
        Method::TaskClaim => task::claim(params),
        Method::TaskProgress => task::progress(params),
        Method::TaskComplete => task::complete(params),
        Method::TaskFail => task::fail(params),
        Method::TaskRelease => task::release(params),
        Method::TaskList => task::list(params),
        Method::TaskShow => task::show(params),
        Method::HostList => Ok(host::list(ctx)),
        Method::EventsList => events::list(params),
        Method::EventsSubscribe => {
            let mut e = RpcError::method_not_found(method.name());
            e.data = Some(serde_json::json!({ "hint": "only over the WebSocket (GET /ws)" }));
            Err(e)
        }
    }
}

/// Named parameters as sent: a JSON object as written, or `None` for none.
pub type Named<'a> = Option<&'a RawValue>;

/// The named parameters; positional ones are -32602.
pub(crate) fn named(params: Params<'_>) -> Result<Named<'_>, RpcError> {
    match params {
        Params::Named(params) => Ok(params),
        Params::Positional => Err(RpcError::invalid_params(
            "params",
            "coord methods take named parameters (an object)",
        )),
    }
}

/// Reads named parameters into `T`, straight from the text the client sent; a missing or
/// mistyped field is -32602 naming it.
pub(crate) fn parse<T: DeserializeOwned>(params: Named<'_>) -> Result<T, RpcError> {
    let text = params.map_or("{}", RawValue::get);
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // The place in the text says nothing to a client that sent an object.
        let place = format!(" at line {} column {}", inner.line(), inner.column());
        let why = inner.to_string();
        let why = why.strip_suffix(&place).unwrap_or(&why);
        let field = if path == "." {
            quoted(why).unwrap_or("params").to_owned()
        } else {
            path
        };
        RpcError::invalid_params(&field, why)
    })
}

/// The first name between backticks in a message ("missing field `id`").
fn quoted(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once('`')?;
    Some(rest.split_once('`')?.0)
}

/// Refuses an empty string for `field`.
pub(crate) fn non_empty(field: &str, value: &str) -> Result<(), RpcError> {
    if value.is_empty() {
        Err(RpcError::invalid_params(field, "must not be empty"))
    } else {
        Ok(())
    }
}

/// The error object for a service's refusal; `id_field` is the parameter that named the
/// session.
#[must_use]
pub fn refusal(e: &ServiceError, id_field: &str) -> RpcError {
    let message = e.to_string();
    match e {
        ServiceError::Store(_) => RpcError::new(
            code::STORE_UNAVAILABLE,
            format!("Store unavailable: {message}"),
        ),
        ServiceError::NotRegistered(_) => RpcError::new(code::NOT_REGISTERED, message),
        ServiceError::InvalidId(_) => RpcError::invalid_params(id_field, message),
        ServiceError::NoSuchProcess(_) => RpcError::invalid_params("pid", message),
        ServiceError::Task(TaskError::StaleToken { .. }) => {
            RpcError::new(code::STALE_TOKEN, message)
        }
        _ => RpcError::new(code::REFUSED, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct P {
        instance_id: String,
        n: Option<u64>,
    }

    fn parse_json(v: &Value) -> Result<P, RpcError> {
        let raw = RawValue::from_string(v.to_string()).unwrap();
        parse::<P>(Some(&raw))
    }

    #[test]
    fn bad_params_name_the_field() {
        let e = parse_json(&serde_json::json!({})).unwrap_err();
        assert_eq!(e.data.unwrap()["field"], "instanceId");
        let e = parse_json(&serde_json::json!({"instanceId": 1})).unwrap_err();
        assert_eq!(e.data.unwrap()["field"], "instanceId");
        assert!(!e.message.contains("line"), "{}", e.message);
        let e = parse_json(&serde_json::json!({"instanceId": "a", "n": "x"})).unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert_eq!(e.data.unwrap()["field"], "n");
        assert!(parse_json(&serde_json::json!({"instanceId": "a", "extra": 1})).is_ok());
        assert!(parse::<P>(None).is_err(), "no parameters at all");
    }

    #[test]
    fn every_method_is_found_by_its_name() {
        for name in [
            "system.register",
            "task.show",
            "host.list",
            "events.subscribe",
        ] {
            assert_eq!(Method::find(name).map(Method::name), Some(name));
        }
        assert_eq!(Method::find("system.nope"), None);
    }
}
