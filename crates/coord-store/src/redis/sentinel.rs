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
//! Redis replicates asynchronously, so a replica promoted by a failover may lack the last
//! changes of the old master, the last fencing tokens among them: a counter that went back
//! would hand a token out twice, and a zombie's write under it would be taken. So the master's
//! replication id (which a promotion changes) is read with its role, and before the first
//! token a connection takes, the namespace's counter is fenced on it (`fence_tokens.lua`):
//! on a master it has not seen, the counter jumps by [`TOKEN_GAP`] first.

use std::time::Duration;

use ::redis::{Client, Connection, ErrorKind, RedisError};

use super::connect_raw;
use crate::url::RedisUrl;

/// How far a namespace's token counter jumps on a master it has not seen: more tokens than
/// any failover can lose (those the old master handed out in the moments its replica had not
/// yet received), and little enough that 2^21 failovers keep tokens exact as JSON numbers.
pub(super) const TOKEN_GAP: u64 = 1 << 32;

/// A connection to the master that `url`'s sentinels name, each step within `timeout`, and
/// the master's replication id.
pub(super) fn master(
    url: &RedisUrl,
    timeout: Duration,
) -> Result<(Connection, String), RedisError> {
    let Some((sentinels, name)) = url.sentinels() else {
        return Err(failure("the URL names no sentinels".to_owned()));
    };
    let mut last = failure("no sentinel was given".to_owned());
    for sentinel in sentinels {
        match ask(sentinel, name, timeout).and_then(|(host, port)| {
            let mut con = Client::open(url.node_info(&host, port)?)
                .and_then(|client| connect_raw(&client, timeout))?;
            if let Some(replid) = master_replid(&mut con)? {
                Ok((con, replid))
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

/// The server's replication id if it is a master now.
fn master_replid(con: &mut Connection) -> Result<Option<String>, RedisError> {
    let info: String = ::redis::cmd("INFO").arg("replication").query(con)?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    Ok(match (field("role"), field("master_replid")) {
        (Some("master"), Some(replid)) => Some(replid.to_owned()),
        _ => None,
    })
}

fn failure(why: String) -> RedisError {
    RedisError::from((ErrorKind::Io, "sentinel", why))
}
