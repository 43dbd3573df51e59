//! The event log: `events.list`, mirroring `coord events --json`, and what the WebSocket's
//! `events.subscribe` needs (its parameters, the end of the log).

use coord_service::{Service, ServiceError, json as shapes};
use serde::Deserialize;
use serde_json::{Value, json};

use super::schema::{Field, OBJECT, Schema, Signature};
use super::{Named, Prepared, parse};
use crate::rpc::RpcError;

/// Events read per round trip to the store.
pub const PAGE: usize = 1000;

/// The most events one `events.list` returns.
pub const MAX_LIMIT: usize = 10_000;

/// What `events.list` takes and gives.
pub static LIST: Signature = Signature {
    input: Schema::Object(&[
        Field::optional("since", Schema::Number),
        Field::optional("limit", Schema::Number),
    ]),
    output: Schema::Object(&[Field::required("events", Schema::Array(&OBJECT))]),
    writes: false,
};

/// What `events.subscribe` takes and gives (then pushes each event as `events.event`).
pub static SUBSCRIBE: Signature = Signature {
    input: Schema::Object(&[Field::optional("since", Schema::Number)]),
    output: Schema::Object(&[
        Field::required("subscribed", Schema::Boolean),
        Field::required("since", Schema::Number),
    ]),
    writes: false,
};

#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    since: u64,
    limit: Option<usize>,
}

/// `events.list {since?, limit?}` → `{events}`: at most `limit` (default 1000, at most 10000)
/// events after the sequence number `since` (default 0), oldest first.
pub fn list(params: Named<'_>) -> Result<Prepared, RpcError> {
    let p: ListParams = parse(params)?;
    let limit = p.limit.unwrap_or(PAGE);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(RpcError::invalid_params(
            "limit",
            format!("must be 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(Prepared::new("id", move |s| {
        let events: Vec<Value> = s
            .events(p.since, limit)?
            .iter()
            .map(shapes::event)
            .collect();
        Ok(json!({ "events": events }))
    }))
}

/// The parameters of `events.subscribe`.
#[derive(Deserialize)]
pub struct SubscribeParams {
    /// Resume after this sequence number; absent: from the end of the log (new events only).
    pub since: Option<u64>,
}

/// Reads the parameters of `events.subscribe`.
pub fn subscribe_params(params: Named<'_>) -> Result<SubscribeParams, RpcError> {
    parse(params)
}

/// The sequence number of the latest event, searched forward from `from` (a sequence number
/// known not to be past the end).
pub fn end_of_log(s: &Service, from: u64) -> Result<u64, ServiceError> {
    let mut after = from;
    loop {
        let page = s.events(after, PAGE)?;
        if let Some(last) = page.last() {
            after = last.seq;
        }
        if page.len() < PAGE {
            return Ok(after);
        }
    }
}
