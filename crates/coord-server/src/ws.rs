//! `GET /ws`: the same methods over a WebSocket (each text or binary message is a request or a
//! batch, answered in one message), plus `events.subscribe {since?}`, which pushes every event
//! of the log as a notification `{"jsonrpc":"2.0","method":"events.event","params":<event>}`.
//!
//! A subscription starts after the sequence number `since` (absent: at the end of the log),
//! reads what it missed from the store, then follows the server's live feed; if it falls too
//! far behind the feed, it reads from the store again, so no event is skipped. A second
//! `events.subscribe` on the same connection replaces the first. A handshake from a web page of
//! another machine (its `Origin`) is refused with 403 unless it carries the token or
//! `--allow-origin` names it. A client that offers the subprotocol [`auth::PROTOCOL`] (the
//! dashboard does) gets it in the answer.
//!
//! A message that is not JSON-RPC but one of ClaudeBench's actions (`{"action": …}`) is
//! answered as ClaudeBench's server answers it ([`actions`]).

pub mod actions;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Extension;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coord_core::Event;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::dispatch::{self, answer};
use crate::feed::{self, POLL};
use crate::methods::events::{PAGE, end_of_log, subscribe_params};
use crate::methods::named;
use crate::rpc::{Params, RpcError};
use crate::{App, MAX_BODY, auth};

/// Notifications a connection may have queued before its subscription waits for the client.
const OUTBOX: usize = 256;

/// Upgrades the connection.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    admitted: Option<Extension<auth::Admitted>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).map(HeaderValue::as_bytes);
    if admitted.is_none() && !auth::origin_is_local(origin) && !app.origins.allows(origin) {
        return StatusCode::FORBIDDEN.into_response();
    }
    ws.protocols([auth::PROTOCOL])
        .max_message_size(MAX_BODY)
        .on_upgrade(move |socket| serve(socket, app, peer.ip()))
}

/// The subscription a connection asked for and has not started yet.
#[derive(Default)]
pub struct Link {
    pending: Mutex<Option<u64>>,
}

impl Link {
    /// Answers `events.subscribe {since?}` with `{subscribed: true, since}`; the connection
    /// starts sending events after `since` once the answer is sent.
    pub async fn subscribe(&self, app: &App, params: Params<'_>) -> Result<Value, RpcError> {
        let since = start(app, subscribe_params(named(params)?)?.since).await?;
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(since);
        Ok(json!({ "subscribed": true, "since": since }))
    }

    fn take(&self) -> Option<u64> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Where a subscription starts: after `since`, else at the end of the log.
async fn start(app: &App, since: Option<u64>) -> Result<u64, RpcError> {
    if let Some(since) = since {
        return Ok(since);
    }
    let hint = app.methods.seq_hint();
    let end = app
        .gate
        .call(app.budget, move |s| Ok(Value::from(end_of_log(s, hint)?)))
        .await;
    Ok(answer(end, None, "id")?.as_u64().unwrap_or(hint))
}

/// Serves one connection until it closes.
async fn serve(mut socket: WebSocket, app: Arc<App>, client: IpAddr) {
    let (tx, mut outbox) = mpsc::channel::<String>(OUTBOX);
    let link = Link::default();
    let mut watch = actions::Watch::default();
    let mut subscription: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let message = match incoming {
                    Some(Ok(Message::Text(text))) => text.into(),
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                let reply = match actions::read(&message) {
                    Some(action) => watch.answer(&app, action, client, &link, &tx).await,
                    None => dispatch::handle(&app, &message, client, Some(&link)).await.to_json(),
                };
                if let Some(text) = reply
                    && socket.send(Message::Text(text.into())).await.is_err()
                {
                    break;
                }
                if let Some(since) = link.take() {
                    let rpc = |e: &Event, text: Option<&str>| {
                        Some(text.map_or_else(|| feed::notification(e), str::to_owned))
                    };
                    let started = tokio::spawn(follow(Arc::clone(&app), since, tx.clone(), rpc));
                    if let Some(old) = subscription.replace(started) {
                        old.abort();
                    }
                }
            }
            Some(text) = outbox.recv() => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Some(s) = subscription {
        s.abort();
    }
}

/// Sends every event after `after` to `out`, as `render` writes it (given the event and, from
/// the live feed, its notification already written; `None`: not sent): from the store until
/// caught up, then from the live feed (back to the store whenever it fell behind).
async fn follow<F>(app: Arc<App>, mut after: u64, out: mpsc::Sender<String>, render: F)
where
    F: Fn(&Event, Option<&str>) -> Option<String>,
{
    let mut live = app.feed.subscribe();
    loop {
        loop {
            let from = after;
            match app
                .gate
                .call(app.budget, move |s| s.events(from, PAGE))
                .await
            {
                Ok(page) => {
                    for e in &page {
                        if let Some(text) = render(e, None)
                            && out.send(text).await.is_err()
                        {
                            return;
                        }
                        after = e.seq;
                    }
                    if page.len() < PAGE {
                        break;
                    }
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
        loop {
            match live.recv().await {
                Ok(notice) if notice.event.seq <= after => {}
                Ok(notice) => {
                    if let Some(text) = render(&notice.event, Some(&notice.text))
                        && out.send(text).await.is_err()
                    {
                        return;
                    }
                    after = notice.event.seq;
                }
                Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => return,
            }
        }
    }
}
