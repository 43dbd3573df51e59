//! ClaudeBench's WebSocket actions, so that its web client works on `/ws` unchanged. Its client
//! sends `{"action": …}` messages, not JSON-RPC, and its server answers each in a shape of its
//! own; coord answers them the same way:
//!
//! - `{"action": "execute", "request": <a JSON-RPC request>}`: the request runs as if sent
//!   alone, and its answer comes as a plain JSON-RPC response (`jsonrpc`, `id` as sent, `result`
//!   or `error`), which the client matches by `id`; a notification gets nothing.
//! - `{"action": "subscribe", "events": [pattern…]}`: `{"type": "subscribed", "events": [those
//!   patterns], "timestamp"}`, then every new event of the log whose name a pattern takes (the
//!   name itself, `*`, or `domain.*` for every name under `domain.`) as `{"type": "event",
//!   "event": <name>, "data": {"id", "type": <name>, "payload": <the event as `coord events
//!   --json` prints it>, "timestamp"}, "timestamp"}`. The names: `session.registered`,
//!   `session.phase`, `session.exited`, `session.ended`, `session.evicted`, `session.leader`,
//!   `task.claimed`, `task.unclaimed`, `host.<what it became>` (`host.asleep`, `host.lost`…).
//! - `{"action": "unsubscribe", "events": [pattern…]}`: `{"type": "unsubscribed", "events",
//!   "timestamp"}`; with no pattern left, no event is sent.
//! - `{"action": "ping"}`: `{"type": "pong", "timestamp"}`.
//! - Any other action, or one without what it needs: `{"type": "error", "error": {"message",
//!   "code"}, "timestamp"}`, which the client hands to its error callback.
//!
//! Timestamps are milliseconds since the epoch: the event's own for an event, the server's
//! clock otherwise. A message with a `jsonrpc` member is JSON-RPC, whatever else it holds.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use coord_core::{Event, EventKind};
use coord_service::json as shapes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Link, follow, start};
use crate::rpc::{RpcError, string_of};
use crate::{App, dispatch};

/// The most patterns one connection may follow.
pub const MAX_PATTERNS: usize = 100;

/// One action a client sent.
#[derive(Debug)]
pub enum Action<'a> {
    /// Run a JSON-RPC request.
    Execute(&'a RawValue),
    /// Follow the events these patterns take.
    Subscribe(Vec<String>),
    /// Stop following these patterns.
    Unsubscribe(Vec<String>),
    /// Say the connection lives.
    Ping,
    /// Not an action coord takes, and why.
    Refused(RpcError),
}

/// The members of a message that tell an action, borrowed where they lie.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(default, borrow)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow)]
    action: Option<&'a RawValue>,
    #[serde(default, borrow)]
    request: Option<&'a RawValue>,
    #[serde(default, borrow)]
    events: Option<&'a RawValue>,
}

/// The action a message is; `None` when it is not one (JSON-RPC, or not JSON: answered as
/// JSON-RPC).
#[must_use]
pub fn read(message: &[u8]) -> Option<Action<'_>> {
    let text = std::str::from_utf8(message).ok()?;
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let probe: Probe<'_> = serde_json::from_str(text).ok()?;
    if probe.jsonrpc.is_some() {
        return None;
    }
    let action = probe.action?;
    let refused = |why: String| Action::Refused(RpcError::invalid_params("action", why));
    Some(match string_of(action).as_deref() {
        Some("execute") => match probe.request {
            Some(request) => Action::Execute(request),
            None => refused("`execute` takes the JSON-RPC request in `request`".to_owned()),
        },
        Some(verb @ ("subscribe" | "unsubscribe")) => {
            let patterns = probe
                .events
                .and_then(|raw| serde_json::from_str::<Vec<String>>(raw.get()).ok());
            match (patterns, verb) {
                (Some(p), "subscribe") => Action::Subscribe(p),
                (Some(p), _) => Action::Unsubscribe(p),
                (None, _) => refused(format!("`{verb}` takes `events`, an array of strings")),
            }
        }
        Some("ping") => Action::Ping,
        _ => refused(format!(
            "unknown action {}: coord takes execute, subscribe, unsubscribe and ping",
            action.get()
        )),
    })
}

/// The patterns a connection follows, and the task that sends it their events.
#[derive(Default)]
pub struct Watch {
    patterns: Arc<Mutex<BTreeSet<String>>>,
    task: Option<JoinHandle<()>>,
}

impl Watch {
    /// Answers an action; events go to `out` (the connection's outbox) after the answer.
    pub async fn answer(
        &mut self,
        app: &Arc<App>,
        action: Action<'_>,
        client: IpAddr,
        link: &Link,
        out: &mpsc::Sender<String>,
    ) -> Option<String> {
        let reply = match action {
            Action::Execute(request) => {
                let body = request.get().as_bytes();
                return dispatch::handle(app, body, client, Some(link))
                    .await
                    .to_json();
            }
            Action::Subscribe(patterns) => match self.subscribe(app, &patterns, out).await {
                Ok(()) => json!({ "type": "subscribed", "events": patterns, "timestamp": now() }),
                Err(e) => error(&e),
            },
            Action::Unsubscribe(patterns) => {
                self.unsubscribe(&patterns);
                json!({ "type": "unsubscribed", "events": patterns, "timestamp": now() })
            }
            Action::Ping => json!({ "type": "pong", "timestamp": now() }),
            Action::Refused(e) => error(&e),
        };
        Some(reply.to_string())
    }

    /// Adds patterns; the first starts the events at the end of the log.
    async fn subscribe(
        &mut self,
        app: &Arc<App>,
        patterns: &[String],
        out: &mpsc::Sender<String>,
    ) -> Result<(), RpcError> {
        let after = match self.task {
            Some(_) => None,
            None => Some(start(app, None).await?),
        };
        {
            let mut followed = lock(&self.patterns);
            let added = patterns.iter().filter(|p| !followed.contains(*p)).count();
            if followed.len() + added > MAX_PATTERNS {
                return Err(RpcError::invalid_params(
                    "events",
                    format!("at most {MAX_PATTERNS} patterns are followed on one connection"),
                ));
            }
            followed.extend(patterns.iter().cloned());
        }
        if let Some(after) = after {
            let patterns = Arc::clone(&self.patterns);
            let render = move |e: &Event, _: Option<&str>| message(&lock(&patterns), e);
            let task = follow(Arc::clone(app), after, out.clone(), render);
            self.task = Some(tokio::spawn(task));
        }
        Ok(())
    }

    /// Removes patterns; with none left, stops the events.
    fn unsubscribe(&mut self, patterns: &[String]) {
        let mut followed = lock(&self.patterns);
        for p in patterns {
            followed.remove(p);
        }
        if followed.is_empty()
            && let Some(task) = self.task.take()
        {
            task.abort();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn lock(patterns: &Mutex<BTreeSet<String>>) -> MutexGuard<'_, BTreeSet<String>> {
    patterns.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The name an event goes by.
#[must_use]
pub fn name(kind: &EventKind) -> String {
    match kind {
        EventKind::Claimed { .. } | EventKind::Unclaimed { .. } => format!("task.{}", kind.name()),
        EventKind::Host { became, .. } => format!("host.{became}"),
        _ => format!("session.{}", kind.name()),
    }
}

/// Whether `pattern` takes the event named `name`: the name itself, `*`, or `domain.*`.
#[must_use]
pub fn takes(pattern: &str, name: &str) -> bool {
    pattern == "*"
        || pattern == name
        || pattern.strip_suffix(".*").is_some_and(|domain| {
            name.strip_prefix(domain)
                .is_some_and(|rest| rest.starts_with('.'))
        })
}

/// The message that carries `e`, if a pattern takes it.
fn message(patterns: &BTreeSet<String>, e: &Event) -> Option<String> {
    let name = name(&e.kind);
    if !patterns.iter().any(|p| takes(p, &name)) {
        return None;
    }
    let at = e.at.as_millis();
    let data = json!({
        "id": e.seq.to_string(),
        "type": name,
        "payload": shapes::event(e),
        "timestamp": at,
    });
    Some(json!({ "type": "event", "event": name, "data": data, "timestamp": at }).to_string())
}

/// ClaudeBench's error message.
fn error(e: &RpcError) -> Value {
    json!({
        "type": "error",
        "error": { "message": e.message, "code": e.code },
        "timestamp": now(),
    })
}

/// The server's clock, in milliseconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_told_from_json_rpc() {
        let execute = br#"{"action":"execute","request":{"jsonrpc":"2.0","method":"m","id":1}}"#;
        match read(execute) {
            Some(Action::Execute(r)) => assert!(r.get().contains(r#""method":"m""#)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read(br#" {"action":"subscribe","events":["task.*"]}"#),
            Some(Action::Subscribe(p)) if p == ["task.*"]
        ));
        assert!(matches!(
            read(br#"{"action":"unsubscribe","events":[]}"#),
            Some(Action::Unsubscribe(p)) if p.is_empty()
        ));
        assert!(matches!(read(br#"{"action":"ping"}"#), Some(Action::Ping)));
        for refused in [
            &br#"{"action":"invalid_action"}"#[..],
            br#"{"action":7}"#,
            br#"{"action":"execute"}"#,
            br#"{"action":"subscribe"}"#,
            br#"{"action":"subscribe","events":"task.*"}"#,
        ] {
            assert!(
                matches!(read(refused), Some(Action::Refused(e)) if e.code == -32602),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
        for rpc in [
            &br#"{"jsonrpc":"2.0","method":"m","id":1}"#[..],
            br#"{"jsonrpc":"2.0","action":"ping","method":"m","id":1}"#,
            br#"[{"action":"ping"}]"#,
            br#"{"action":null}"#,
            b"not json",
            b"{",
        ] {
            assert!(read(rpc).is_none(), "{}", String::from_utf8_lossy(rpc));
        }
    }

    #[test]
    fn patterns_take_a_name_all_names_or_a_domain() {
        assert!(takes("*", "session.ended"));
        assert!(takes("session.ended", "session.ended"));
        assert!(takes("task.*", "task.claimed"));
        assert!(!takes("task.*", "task"));
        assert!(!takes("task.*", "tasks.claimed"));
        assert!(!takes("task.claimed", "task.unclaimed"));
        assert!(!takes("system.*", "session.registered"));
    }

    #[test]
    fn events_are_named_by_domain() {
        let kinds = [
            (EventKind::Ended, "session.ended"),
            (EventKind::Leader { term: 3 }, "session.leader"),
            (
                EventKind::Claimed {
                    task: "t".into(),
                    token: 1,
                },
                "task.claimed",
            ),
            (
                EventKind::Host {
                    became: "lost".into(),
                    why: "silent".into(),
                },
                "host.lost",
            ),
        ];
        for (kind, want) in kinds {
            assert_eq!(name(&kind), want);
        }
    }
}
