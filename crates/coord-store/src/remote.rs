//! The store behind a `coord serve`: `COORD_URL=http://host:port` makes every [`Store`]
//! operation one JSON-RPC call, `store.<operation>`, to the server, which runs it on its own
//! store. The command line then works unchanged on a machine that reaches the server but not
//! the store itself (no Redis port open to it, no shared disk): the same commands, output and
//! exit codes, the server's clock.
//!
//! [`Call`] is the one description of an operation, used on both sides: [`RemoteStore`] turns
//! each trait method into a `Call` and sends it; the server reads the `Call` back and runs it
//! with [`Call::run`]. The client is a small blocking HTTP client (no async runtime: the hook
//! path may use it), with the same bounded waits as the Redis backend, and the bearer token
//! from `COORD_TOKEN` when the server asks for one.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::{
    Beat, Event, EventKind, ExitStatus, HostHeard, Notice, Registration, Session, Source, Task,
    Timestamp,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::url::HttpUrl;
use crate::{ClaimOutcome, ClaimRequest, Config, Result, Store, StoreError, TaskEvent};

/// The prefix of the JSON-RPC methods that carry store operations.
pub const METHOD_PREFIX: &str = "store.";

/// The largest answer read from a server (a fleet's sessions or a page of events).
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// One store operation with its arguments, as it travels: the method is `store.<op>` and the
/// parameters are the fields, with the `namespace` the caller sees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
#[allow(missing_docs)]
pub enum Call {
    /// [`Store::now`]
    Now,
    /// [`Store::register`]
    Register { registration: Registration },
    /// [`Store::heartbeat`]
    Heartbeat { id: String, beat: Beat },
    /// [`Store::unregister`]
    Unregister { id: String, source: Source },
    /// [`Store::record_exit`]
    RecordExit {
        id: String,
        incarnation: u64,
        status: ExitStatus,
        source: Source,
    },
    /// [`Store::session`]
    Session { id: String },
    /// [`Store::sessions`]
    Sessions,
    /// [`Store::quiet_since`]
    QuietSince { before: Timestamp, limit: usize },
    /// [`Store::host_heard`]
    HostHeard { host: String },
    /// [`Store::hosts`]
    Hosts,
    /// [`Store::host_gap`], in milliseconds
    HostGap,
    /// [`Store::note_host`]
    NoteHost {
        host: String,
        expected: Option<Notice>,
        notice: Option<Notice>,
        event: EventKind,
    },
    /// [`Store::evict`]
    Evict {
        id: String,
        revision: u64,
        reason: String,
    },
    /// [`Store::events`]
    Events { after: u64, limit: usize },
    /// [`Store::session_events`]
    SessionEvents { id: String, limit: usize },
    /// [`Store::tidy`]
    Tidy,
    /// [`Store::task`]
    Task { id: String },
    /// [`Store::tasks`]
    Tasks,
    /// [`Store::open_tasks`]
    OpenTasks,
    /// [`Store::finished_tasks`]
    FinishedTasks { limit: usize },
    /// [`Store::retire_tasks`]
    RetireTasks { before: Timestamp, limit: usize },
    /// [`Store::put_task`]
    PutTask {
        task: Task,
        expected: Option<u64>,
        events: Vec<TaskEvent>,
    },
    /// [`Store::next_token`]
    NextToken,
    /// [`Store::claim_task`]
    ClaimTask {
        session: String,
        incarnation: u64,
        labels: BTreeMap<String, String>,
        task: Option<String>,
        lease_ms: u64,
    },
}

/// What a claim came to, as it crosses the network (a refusal is told again by the client,
/// from the task as it stands).
#[derive(Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
enum ClaimAnswer {
    Claimed { task: Box<Task> },
    Missing,
    Refused,
    Nothing,
}

impl Call {
    /// Reads a call from its JSON-RPC method (`store.<op>`) and parameters; the namespace, a
    /// parameter of every call, is returned beside it.
    pub fn from_rpc(
        method: &str,
        mut params: Map<String, Value>,
    ) -> std::result::Result<(String, Call), serde_json::Error> {
        let op = method.strip_prefix(METHOD_PREFIX).unwrap_or(method);
        let Some(Value::String(namespace)) = params.remove("namespace") else {
            return Err(serde::de::Error::missing_field("namespace"));
        };
        // Who calls counts for the rate limit only.
        params.remove("client");
        params.insert("op".to_owned(), Value::String(op.to_owned()));
        let call = serde_json::from_value(Value::Object(params))?;
        Ok((namespace, call))
    }

    /// The JSON-RPC method and parameters of this call for `namespace`.
    #[must_use]
    pub fn to_rpc(&self, namespace: &str) -> (String, Value) {
        let mut params = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // Every variant is a struct or a unit variant of an internally tagged enum: always
            // an object.
            _ => Map::new(),
        };
        let op = match params.remove("op") {
            Some(Value::String(op)) => op,
            _ => String::new(),
        };
        params.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
        (format!("{METHOD_PREFIX}{op}"), Value::Object(params))
    }

    /// Runs the call on `store` and returns its result as JSON.
    pub fn run(self, store: &dyn Store) -> Result<Value> {
        let value = match self {
            Call::Now => json!(store.now()?),
            Call::Register { registration } => json!(store.register(&registration)?),
            Call::Heartbeat { id, beat } => json!(store.heartbeat(&id, &beat)?),
            Call::Unregister { id, source } => json!(store.unregister(&id, source)?),
            Call::RecordExit {
                id,
                incarnation,
                status,
                source,
            } => json!(store.record_exit(&id, incarnation, status, source)?),
            Call::Session { id } => json!(store.session(&id)?),
            Call::Sessions => json!(store.sessions()?),
            Call::QuietSince { before, limit } => json!(store.quiet_since(before, limit)?),
            Call::HostHeard { host } => json!(store.host_heard(&host)?),
            Call::Hosts => json!(store.hosts()?),
            Call::HostGap => json!(store.host_gap()?.as_millis() as u64),
            Call::ClaimTask {
                session,
                incarnation,
                labels,
                task,
                lease_ms,
            } => {
                let claim = ClaimRequest {
                    session: &session,
                    incarnation,
                    labels: &labels,
                    task: task.as_deref(),
                    lease: Duration::from_millis(lease_ms),
                };
                json!(match store.claim_task(&claim)? {
                    ClaimOutcome::Claimed(task) => ClaimAnswer::Claimed { task },
                    ClaimOutcome::NoSuchTask => ClaimAnswer::Missing,
                    ClaimOutcome::Refused(_) => ClaimAnswer::Refused,
                    ClaimOutcome::NothingWaits => ClaimAnswer::Nothing,
                })
            }
            Call::NoteHost {
                host,
                expected,
                notice,
                event,
            } => json!(store.note_host(&host, expected, notice, &event)?),
            Call::Evict {
                id,
                revision,
                reason,
            } => json!(store.evict(&id, revision, &reason)?),
            Call::Events { after, limit } => json!(store.events(after, limit)?),
            Call::SessionEvents { id, limit } => json!(store.session_events(&id, limit)?),
            Call::Tidy => json!(store.tidy()?),
            Call::Task { id } => json!(store.task(&id)?),
            Call::Tasks => json!(store.tasks()?),
            Call::OpenTasks => json!(store.open_tasks()?),
            Call::FinishedTasks { limit } => json!(store.finished_tasks(limit)?),
            Call::RetireTasks { before, limit } => json!(store.retire_tasks(before, limit)?),
            Call::PutTask {
                task,
                expected,
                events,
            } => json!(store.put_task(&task, expected, &events)?),
            Call::NextToken => json!(store.next_token()?),
        };
        Ok(value)
    }
}

/// A store reached through a `coord serve`.
pub struct RemoteStore {
    url: HttpUrl,
    endpoint: String,
    namespace: String,
    agent: ureq::Agent,
    timeout: Duration,
    /// Who calls ([`Config::client`]), sent with every call.
    client: Option<String>,
    /// The server's host gap, once asked.
    host_gap: OnceCell<Duration>,
}

impl RemoteStore {
    /// A handle on the server at `url`. Nothing is sent until the first operation.
    #[must_use]
    pub fn open(url: &HttpUrl, config: &Config) -> Self {
        let timeout = request_timeout(config.connect_timeout);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(timeout))
            .build()
            .into();
        Self {
            endpoint: format!("{}/rpc", url.base()),
            url: url.clone(),
            namespace: config.namespace.clone(),
            agent,
            timeout,
            client: config.client.clone(),
            host_gap: OnceCell::new(),
        }
    }

    /// Sends `call` and reads its result as a `T`.
    fn call<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let (method, mut params) = call.to_rpc(&self.namespace);
        if let (Some(client), Value::Object(map)) = (&self.client, &mut params) {
            map.insert("client".to_owned(), Value::String(client.clone()));
        }
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let mut request = self
            .agent
            .post(&self.endpoint)
            .header("content-type", "application/json");
        if let Some(token) = self.url.token() {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = request
            .send(body.to_string())
            .map_err(|e| self.transport(&e))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_string()
            .map_err(|e| self.transport(&e))?;
        let answer: Value = serde_json::from_str(&text).map_err(|_| {
            self.refused(
                status.as_u16(),
                format!("HTTP {status}: not a JSON-RPC answer (is this a coord serve?)"),
            )
        })?;
        if let Some(error) = answer.get("error") {
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_owned();
            return Err(self.refused(code, message));
        }
        let result = answer.get("result").cloned().unwrap_or(Value::Null);
        serde_json::from_value(result)
            .map_err(|e| StoreError::Corrupt(format!("{method} from {}: {e}", self.url)))
    }

    fn transport(&self, e: &ureq::Error) -> StoreError {
        match e {
            ureq::Error::Timeout(_) => StoreError::Timeout {
                url: self.url.to_string(),
                after: self.timeout,
            },
            other => StoreError::Unreachable {
                url: self.url.to_string(),
                why: other.to_string(),
            },
        }
    }

    fn refused(&self, code: impl Into<i64>, message: String) -> StoreError {
        StoreError::Server {
            url: self.url.to_string(),
            code: code.into(),
            message,
        }
    }
}

/// How long one request may take in all: the connect timeout on the hook path (which must not
/// hang on an unreachable server), and room for the server's own budget (2 s a call) beyond
/// it for commands.
fn request_timeout(connect: Duration) -> Duration {
    if connect < Duration::from_secs(1) {
        connect
    } else {
        connect + Duration::from_secs(3)
    }
}

impl Store for RemoteStore {
    fn now(&self) -> Result<Timestamp> {
        self.call(&Call::Now)
    }

    fn register(&self, registration: &Registration) -> Result<Session> {
        self.call(&Call::Register {
            registration: registration.clone(),
        })
    }

    fn heartbeat(&self, id: &str, beat: &Beat) -> Result<Option<Session>> {
        self.call(&Call::Heartbeat {
            id: id.to_owned(),
            beat: beat.clone(),
        })
    }

    fn unregister(&self, id: &str, source: Source) -> Result<Option<Session>> {
        self.call(&Call::Unregister {
            id: id.to_owned(),
            source,
        })
    }

    fn record_exit(
        &self,
        id: &str,
        incarnation: u64,
        status: ExitStatus,
        source: Source,
    ) -> Result<bool> {
        self.call(&Call::RecordExit {
            id: id.to_owned(),
            incarnation,
            status,
            source,
        })
    }

    fn session(&self, id: &str) -> Result<Option<Session>> {
        self.call(&Call::Session { id: id.to_owned() })
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        self.call(&Call::Sessions)
    }

    fn quiet_since(&self, before: Timestamp, limit: usize) -> Result<Vec<Session>> {
        self.call(&Call::QuietSince { before, limit })
    }

    /// The server's: it records the hosts (asked once per handle).
    fn host_gap(&self) -> Result<Duration> {
        if let Some(gap) = self.host_gap.get() {
            return Ok(*gap);
        }
        let ms: u64 = self.call(&Call::HostGap)?;
        Ok(*self.host_gap.get_or_init(|| Duration::from_millis(ms)))
    }

    fn host_heard(&self, host: &str) -> Result<Option<HostHeard>> {
        self.call(&Call::HostHeard {
            host: host.to_owned(),
        })
    }

    fn hosts(&self) -> Result<BTreeMap<String, HostHeard>> {
        self.call(&Call::Hosts)
    }

    fn note_host(
        &self,
        host: &str,
        expected: Option<Notice>,
        notice: Option<Notice>,
        event: &EventKind,
    ) -> Result<bool> {
        self.call(&Call::NoteHost {
            host: host.to_owned(),
            expected,
            notice,
            event: event.clone(),
        })
    }

    fn evict(&self, id: &str, revision: u64, reason: &str) -> Result<bool> {
        self.call(&Call::Evict {
            id: id.to_owned(),
            revision,
            reason: reason.to_owned(),
        })
    }

    fn events(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        self.call(&Call::Events { after, limit })
    }

    fn session_events(&self, id: &str, limit: usize) -> Result<Vec<Event>> {
        self.call(&Call::SessionEvents {
            id: id.to_owned(),
            limit,
        })
    }

    fn tidy(&self) -> Result<()> {
        self.call(&Call::Tidy)
    }

    fn task(&self, id: &str) -> Result<Option<Task>> {
        self.call(&Call::Task { id: id.to_owned() })
    }

    fn tasks(&self) -> Result<Vec<Task>> {
        self.call(&Call::Tasks)
    }

    fn open_tasks(&self) -> Result<Vec<Task>> {
        self.call(&Call::OpenTasks)
    }

    fn finished_tasks(&self, limit: usize) -> Result<Vec<Task>> {
        self.call(&Call::FinishedTasks { limit })
    }

    fn retire_tasks(&self, before: Timestamp, limit: usize) -> Result<usize> {
        self.call(&Call::RetireTasks { before, limit })
    }

    fn put_task(&self, task: &Task, expected: Option<u64>, events: &[TaskEvent]) -> Result<bool> {
        self.call(&Call::PutTask {
            task: task.clone(),
            expected,
            events: events.to_vec(),
        })
    }

    fn claim_task(&self, claim: &ClaimRequest) -> Result<ClaimOutcome> {
        let answer: ClaimAnswer = self.call(&Call::ClaimTask {
            session: claim.session.to_owned(),
            incarnation: claim.incarnation,
            labels: claim.labels.clone(),
            task: claim.task.map(str::to_owned),
            lease_ms: claim.lease.as_millis() as u64,
        })?;
        match answer {
            ClaimAnswer::Claimed { task } => Ok(ClaimOutcome::Claimed(task)),
            ClaimAnswer::Missing => Ok(ClaimOutcome::NoSuchTask),
            ClaimAnswer::Refused => ClaimOutcome::refused(self, claim.task.unwrap_or_default()),
            ClaimAnswer::Nothing => Ok(ClaimOutcome::NothingWaits),
        }
    }

    fn next_token(&self) -> Result<u64> {
        self.call(&Call::NextToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_survives_the_trip() {
        let calls = [
            Call::Now,
            Call::Heartbeat {
                id: "a".into(),
                beat: Beat::activity(Source::Hook, Timestamp::from_millis(5)),
            },
            Call::QuietSince {
                before: Timestamp::from_millis(9),
                limit: 3,
            },
            Call::PutTask {
                task: Task::new(
                    &coord_core::NewTask {
                        id: "t".into(),
                        ..coord_core::NewTask::default()
                    },
                    Timestamp::from_millis(1),
                ),
                expected: Some(2),
                events: Vec::new(),
            },
        ];
        for call in calls {
            let (method, params) = call.to_rpc("ns");
            assert!(method.starts_with("store."), "{method}");
            let Value::Object(params) = params else {
                panic!("params are an object")
            };
            assert_eq!(params["namespace"], "ns");
            let (ns, back) = Call::from_rpc(&method, params).unwrap();
            assert_eq!((ns.as_str(), back), ("ns", call));
        }
    }

    #[test]
    fn a_call_without_a_namespace_or_of_an_unknown_operation_is_refused() {
        assert!(Call::from_rpc("store.now", Map::new()).is_err());
        let mut params = Map::new();
        params.insert("namespace".into(), "ns".into());
        assert!(Call::from_rpc("store.dropEverything", params).is_err());
    }

    #[test]
    fn the_hook_path_waits_no_longer_than_its_connect_timeout() {
        let short = Duration::from_millis(250);
        assert_eq!(request_timeout(short), short);
        assert!(request_timeout(Duration::from_secs(2)) > Duration::from_secs(2));
    }
}
