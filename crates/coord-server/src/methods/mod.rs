//! The method table: every JSON-RPC method the server answers, what it is for, what it takes
//! and gives ([`schema::Signature`], which `system.discover` shows), and the work it runs on a
//! service handle. The server adds transport, not logic: each method reads its parameters,
//! then calls the service and shapes the answer.
//!
//! - [`system`]: the ClaudeBench `system.*` family, with its exact parameters and results.
//! - [`session`]: coord's own `session.*`, mirroring `coord register|heartbeat|unregister|ps|show`.
//! - [`task`]: `task.*`, mirroring `coord task`.
//! - [`host`]: `host.list`, mirroring `coord hosts`.
//! - [`events`]: `events.list` (and the parameters of `events.subscribe`, which the WebSocket
//!   serves).
//! - [`store`]: `store.*`, the store operations of a command line pointed at this server.
//! - [`schema`]: the shapes of parameters and results, as data.
//!
//! Parameters are named (an object; absent or `null` is `{}`), camelCase, and fields a method
//! does not know are ignored. A parameter of coord's own methods that is missing or of the
//! wrong type is answered with -32602 naming it (`data.field`); the `system.*` methods answer
//! as ClaudeBench does, with zod's issues ([`system::params`]).

pub mod events;
pub mod host;
pub mod schema;
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
use schema::Signature;

/// A call whose parameters were read, ready to run.
pub struct Prepared {
    /// The work.
    pub work: Work,
    /// What a ClaudeBench client gets when the call runs out of time, and for some calls when
    /// the store is unavailable (its documented fallback); `None`: the call is answered with
    /// -32006 (or the store's error).
    pub fallback: Option<Fallback>,
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

    /// The same, answered with `answer` when out of time.
    fn or_else(mut self, answer: Value) -> Self {
        self.fallback = Some(Fallback {
            answer,
            when_down: false,
        });
        self
    }

    /// The same, answered with `answer` when out of time or when the store is unavailable
    /// (what answers whether the store is up, or needs no store).
    fn or_else_when_down(mut self, answer: Value) -> Self {
        self.fallback = Some(Fallback {
            answer,
            when_down: true,
        });
        self
    }

    /// Work that needs no store: `answer`, whatever the store does.
    fn constant(answer: Value) -> Self {
        let given = answer.clone();
        Self::new("id", move |_| Ok(given)).or_else_when_down(answer)
    }
}

/// A call's documented answer when the service does not give one.
pub struct Fallback {
    /// The answer.
    pub answer: Value,
    /// Whether it is also the answer when the store is unavailable (else only when out of
    /// time).
    pub when_down: bool,
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
    ($($variant:ident => $name:literal, $signature:expr, $about:literal;)*) => {
        /// A method the server knows.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Method {
            $(
                #[doc = concat!("`", $name, "`: ", $about)]
                $variant,
            )*
        }

        impl Method {
            /// Every method, in the table's order.
            pub const ALL: &[Method] = &[$(Method::$variant,)*];

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

            /// What it is for, in a sentence.
            #[must_use]
            pub fn about(self) -> &'static str {
                match self {
                    $(Method::$variant => $about,)*
                }
            }

            /// What it takes and gives.
            #[must_use]
            pub fn signature(self) -> &'static Signature {
                match self {
                    $(Method::$variant => &$signature,)*
                }
            }
        }
    };
}

methods! {
    SystemRegister => "system.register", system::REGISTER,
        "Register an instance with its roles (a session of the API with a 30 s TTL); registering again replaces them";
    SystemHeartbeat => "system.heartbeat", system::HEARTBEAT,
        "Renew an instance and the leader lease; alive is false for an instance not registered";
    SystemUnregister => "system.unregister", system::UNREGISTER,
        "End an instance and take back the tasks it held";
    SystemCheckHealth => "system.check_health", system::health::CHECK_HEALTH,
        "Sweep the fleet, hand waiting tasks on, and list the instances healthy and failed (dead, or silent longer than timeout ms)";
    SystemGetState => "system.get_state", system::state::GET_STATE,
        "The instances, tasks and latest events (empty lists left out), the leader and the log's latest sequence number";
    SystemHealth => "system.health", system::health::HEALTH,
        "Whether coord's store answers (shown as redis; coord has no postgres or mcp)";
    SystemMetrics => "system.metrics", system::state::METRICS,
        "Calls, latency, memory and the work queue; with detailed, each method's figures and the breaker's";
    SystemDiscover => "system.discover", system::discover::DISCOVER,
        "Every method coord serves with its parameters and result; domain keeps one family";
    SessionRegister => "session.register", session::REGISTER,
        "Register a session (coord register)";
    SessionHeartbeat => "session.heartbeat", session::HEARTBEAT,
        "Signal that a session lives, with its phase (coord heartbeat)";
    SessionUnregister => "session.unregister", session::UNREGISTER,
        "End a session (coord unregister)";
    SessionList => "session.list", session::LIST,
        "The fleet, each session with its state (coord ps --json)";
    SessionShow => "session.show", session::SHOW,
        "One session with its verdict and latest events (coord show --json)";
    TaskAdd => "task.add", task::ADD,
        "Add a task to the work queue (coord task add)";
    TaskClaim => "task.claim", task::CLAIM,
        "Claim a task with a new fencing token (coord task claim)";
    TaskProgress => "task.progress", task::PROGRESS,
        "Report progress under a claim, renewing its lease (coord task progress)";
    TaskComplete => "task.complete", task::COMPLETE,
        "Finish a claimed task (coord task complete)";
    TaskFail => "task.fail", task::FAIL,
        "Give a claimed task up as failed (coord task fail)";
    TaskRelease => "task.release", task::RELEASE,
        "Give a claimed task back to the queue (coord task release)";
    TaskList => "task.list", task::LIST,
        "The open tasks and the last finished (coord task list --json)";
    TaskShow => "task.show", task::SHOW,
        "One task with its history (coord task show --json)";
    HostList => "host.list", host::LIST,
        "Every host with its state and sessions (coord hosts --json)";
    EventsList => "events.list", events::LIST,
        "The event log after a sequence number (coord events --json)";
    EventsSubscribe => "events.subscribe", events::SUBSCRIBE,
        "Every new event, pushed as events.event notifications (over the WebSocket only)";
    Store => "store.*", store::OPERATION,
        "A remote command line's store operations (not listed by system.discover)";
}

/// Reads the parameters of a call of `method` (called `name`) and prepares its work.
/// `events.subscribe` is the WebSocket's own (see [`crate::ws`]): elsewhere it is not found.
pub fn prepare(
    method: Method,
    name: &str,
    params: Params,
    ctx: &Context,
) -> Result<Prepared, RpcError> {
    match method {
        Method::SystemRegister => system::register(params),
        Method::SystemHeartbeat => system::heartbeat(params, ctx),
        Method::SystemUnregister => system::unregister(params, ctx),
        Method::SystemCheckHealth => system::health::check_health(params, ctx),
        Method::SystemGetState => system::state::get_state(params, ctx),
        Method::SystemHealth => system::health::health(params),
        Method::SystemMetrics => system::state::metrics(params, ctx),
        Method::SystemDiscover => system::discover::discover(params),
        Method::Store => store::prepare(name, named(params)?),
        Method::SessionRegister => session::register(named(params)?),
        Method::SessionHeartbeat => session::heartbeat(named(params)?, ctx),
        Method::SessionUnregister => session::unregister(named(params)?),
        Method::SessionList => session::list(named(params)?, ctx),
        Method::SessionShow => session::show(named(params)?),
        Method::TaskAdd => task::add(named(params)?),
        Method::TaskClaim => task::claim(named(params)?),
        Method::TaskProgress => task::progress(named(params)?),
        Method::TaskComplete => task::complete(named(params)?),
        Method::TaskFail => task::fail(named(params)?),
        Method::TaskRelease => task::release(named(params)?),
        Method::TaskList => task::list(named(params)?),
        Method::TaskShow => task::show(named(params)?),
        Method::HostList => named(params).map(|_| host::list(ctx)),
        Method::EventsList => events::list(named(params)?),
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

    /// A value of the shape `schema`, every field of an object filled in.
    fn sample(schema: &schema::Schema) -> Value {
        use schema::Schema;
        match schema {
            Schema::String { .. } => "x".into(),
            Schema::Number => 1.into(),
            Schema::Boolean => true.into(),
            Schema::Any => serde_json::json!({}),
            Schema::Enum(values) => values[0].into(),
            Schema::Array(item) => Value::Array(vec![sample(item)]),
            Schema::Record(each) => serde_json::json!({ "k": sample(each) }),
            Schema::Object(fields) => fields
                .iter()
                .map(|f| (f.name.to_owned(), sample(&f.schema)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }

    fn prepared(m: Method, params: &Value) -> Result<Prepared, RpcError> {
        let raw = RawValue::from_string(params.to_string()).unwrap();
        let ctx = Context {
            metrics: Metrics::new(),
            namespace: "ns".to_owned(),
            seq_hint: Arc::default(),
        };
        prepare(m, m.name(), Params::Named(Some(&raw)), &ctx)
    }

    /// The signatures `system.discover` shows are what the methods read: every field of the
    /// input, of its type, is taken, and leaving out a required one is refused.
    #[test]
    fn every_signature_is_what_its_method_takes() {
        for &m in Method::ALL {
            if matches!(m, Method::Store | Method::EventsSubscribe) {
                continue;
            }
            let full = sample(&m.signature().input);
            assert!(prepared(m, &full).is_ok(), "{}: {full}", m.name());
            let schema::Schema::Object(fields) = m.signature().input else {
                panic!("{}: parameters are an object", m.name());
            };
            for f in fields
                .iter()
                .filter(|f| f.presence == schema::Presence::Required)
            {
                let mut without = full.clone();
                without.as_object_mut().unwrap().remove(f.name);
                assert!(
                    prepared(m, &without).is_err(),
                    "{} without {}",
                    m.name(),
                    f.name
                );
            }
        }
    }

    #[test]
    fn the_names_signatures_list_are_coords() {
        let runtimes: Vec<&str> = coord_core::Runtime::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(runtimes, session::RUNTIMES);
        let states: Vec<&str> = coord_core::State::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(states, session::STATES);
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
        for &m in Method::ALL {
            if m != Method::Store {
                assert_eq!(Method::find(m.name()), Some(m));
            }
            assert!(!m.about().is_empty());
        }
    }
}
