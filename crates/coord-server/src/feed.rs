//! The live event feed behind `events.subscribe`: one task polls the store's event log every
//! [`POLL`] and broadcasts each new event, already written as its JSON-RPC notification, to
//! every subscriber. One poll serves all subscribers; a subscriber that falls behind catches
//! up from the store itself (see [`crate::ws`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use coord_core::Event;
use coord_service::json as shapes;
use tokio::sync::broadcast;
use tokio::time::MissedTickBehavior;

use crate::App;
use crate::methods::events::{PAGE, end_of_log};
use crate::rpc::Notification;

/// How often the store is polled for new events.
pub const POLL: Duration = Duration::from_millis(200);

/// How many events a subscriber may be behind the feed before it must catch up from the store.
const BACKLOG: usize = 4096;

/// The method of the notifications that carry events.
pub const EVENT_METHOD: &str = "events.event";

/// One event, and its notification's text.
#[derive(Clone, Debug)]
pub struct Notice {
    /// The event.
    pub event: Arc<Event>,
    /// The notification, as JSON text.
    pub text: Arc<str>,
}

/// The broadcast side of the feed.
pub struct Feed {
    tx: broadcast::Sender<Notice>,
}

impl Feed {
    /// A feed no one listens to yet.
    #[must_use]
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(BACKLOG).0,
        }
    }

    /// Listens to the events the feed broadcasts from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.tx.subscribe()
    }
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}

/// The notification that carries `e`: `{"jsonrpc":"2.0","method":"events.event","params":…}`
/// with the event in the shape `coord events --json` prints.
#[must_use]
pub fn notification(e: &Event) -> String {
    let params = shapes::event(e);
    serde_json::to_string(&Notification::new(EVENT_METHOD, &params)).unwrap_or_default()
}

/// Polls the store for ever: finds the end of the log, then broadcasts every event after it
/// and keeps the server's sequence hint current.
pub async fn run(app: Arc<App>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut after = None;
    loop {
        tick.tick().await;
        let Some(from) = after else {
            let hint = app.methods.seq_hint();
            let found = app
                .gate
                .call(app.long_budget, move |s| end_of_log(s, hint))
                .await;
            if let Ok(end) = found {
                app.methods.seq_hint.store(end, Ordering::Relaxed);
                after = Some(end);
            }
            continue;
        };
        let mut from = from;
        loop {
            let page = match app
                .gate
                .call(app.budget, move |s| s.events(from, PAGE))
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::debug!(error = %e, "the event feed could not read the store");
                    break;
                }
            };
            let last_page = page.len() < PAGE;
            for e in page {
                from = e.seq;
                // No subscriber is not an error: the event is simply not sent.
                let _ = app.feed.tx.send(Notice {
                    text: notification(&e).into(),
                    event: Arc::new(e),
                });
            }
            app.methods.seq_hint.fetch_max(from, Ordering::Relaxed);
            if last_page {
                break;
            }
        }
        after = Some(from);
    }
}
