//! Finding the master through Redis Sentinel (`COORD_URL=redis+sentinel://…`): each sentinel
//! in turn is asked which server is the master of the name (`SENTINEL
//! get-master-addr-by-name`), and the server it names is checked to be one (`ROLE`) before it
//! is used, since a sentinel can lag behind a failover. Every step is bounded by the store's
//! timeout, so a sentinel that is down costs at most that: the `redis` crate's own sentinel
//! client connects without one, which the hook path cannot afford.
//!
//! A connection is found again this way whenever the last one broke, or the server it reached
//! answers `READONLY`: a master that a failover made a replica.
//!
//! What a failover may lose of the fencing tokens is fenced by the scripts themselves, on the
//! master that hands a token out (`take_token` in `common.lua`), so it holds on any target.

use std::time::Duration;

use ::redis::{Client, Connection, ErrorKind, RedisError};

use super::connection::connect_raw;
use crate::url::RedisUrl;

/// A connection to the master that `url`'s sentinels name, each step within `timeout`.
pub(super) fn master(url: &RedisUrl, timeout: Duration) -> Result<Connection, RedisError> {
    let Some((sentinels, name)) = url.sentinels() else {
        return Err(failure("the URL names no sentinels".to_owned()));
    };
    let mut last = failure("no sentinel was given".to_owned());
    for sentinel in sentinels {
        match ask(sentinel, name, timeout).and_then(|(host, port)| {
            let mut con = Client::open(url.node_info(&host, port)?)
                .and_then(|client| connect_raw(&client, timeout))?;
            if is_master(&mut con)? {
                Ok(con)
            } else {
                Err(failure(format!(
                    "{host}:{port}, which a sentinel names as the master of `{name}`, is not one"
                )))
            }
        }) {
            Ok(con) => return Ok(con),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The address one sentinel gives for the master of `name`.
fn ask(
    sentinel: ::redis::ConnectionInfo,
    name: &str,
    timeout: Duration,
) -> Result<(String, u16), RedisError> {
    let mut con = Client::open(sentinel).and_then(|client| connect_raw(&client, timeout))?;
    let addr: Option<(String, u16)> = ::redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(name)
        .query(&mut con)?;
    addr.ok_or_else(|| failure(format!("the sentinel knows no master named `{name}`")))
}

/// Whether the server is a master now.
fn is_master(con: &mut Connection) -> Result<bool, RedisError> {
    let role: Vec<::redis::Value> = ::redis::cmd("ROLE").query(con)?;
    Ok(matches!(role.first(), Some(::redis::Value::BulkString(b)) if b == b"master"))
}

fn failure(why: String) -> RedisError {
    RedisError::from((ErrorKind::Io, "sentinel", why))
}
