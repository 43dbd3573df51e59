//! The fleet backend's connection: to the one server a URL names, to the master its sentinels
//! name now ([`sentinel`](super::sentinel)), or to a Redis Cluster through the `redis` crate's
//! cluster client, which follows `MOVED` and `ASK` as slots move.
//!
//! Every step is bounded by the store's timeout: connecting, then every read and write. A
//! connection that broke is made again before the next request; one that reached a master a
//! failover made a replica (`READONLY`) is made again and the request sent once more, which is
//! safe since a replica refused it whole.

use std::time::Duration;

use ::redis::cluster::{ClusterClient, ClusterClientBuilder};
use ::redis::{Client, Connection, ConnectionLike, ErrorKind, RedisError, ServerErrorKind};

use super::{RedisStore, sentinel};
use crate::url::RedisUrl;
use crate::{Result, StoreError};

/// How many times the cluster client follows a redirection or waits out a cluster that is
/// reconfiguring before it gives up on a request, and how long it waits between tries (ms):
/// few and short, so a request still costs about the store's timeout at most.
const CLUSTER_RETRIES: u32 = 3;
const CLUSTER_RETRY_WAIT: (u64, u64) = (10, 100);

/// Where a store's connection goes.
pub(super) enum Target {
    /// The server the URL names.
    Server(Client),
    /// The master that the URL's sentinels name now.
    Sentinels(RedisUrl),
    /// The nodes of a cluster.
    Cluster(ClusterClient),
}

/// A connection to any target.
pub(super) type Con = Box<dyn ConnectionLike + Send>;

impl Target {
    /// The target of `url`, checked but not yet connected to.
    pub(super) fn of(url: &RedisUrl, timeout: Duration) -> Result<Self, RedisError> {
        if url.sentinels().is_some() {
            return Ok(Self::Sentinels(url.clone()));
        }
        if let Some(nodes) = url.cluster_nodes() {
            return ClusterClientBuilder::new(nodes)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(CLUSTER_RETRIES)
                .min_retry_wait(CLUSTER_RETRY_WAIT.0)
                .max_retry_wait(CLUSTER_RETRY_WAIT.1)
                .build()
                .map(Self::Cluster);
        }
        url.connection_info()
            .and_then(Client::open)
            .map(Self::Server)
    }

    /// A connection, within `timeout`, then with `timeout` on every read and write.
    pub(super) fn connect(&self, timeout: Duration) -> Result<Con, RedisError> {
        Ok(match self {
            Self::Server(client) => Box::new(connect_raw(client, timeout)?),
            Self::Sentinels(url) => Box::new(sentinel::master(url, timeout)?),
            Self::Cluster(client) => Box::new(client.get_connection()?),
        })
    }

    /// Whether `e` says the server is no longer the master the sentinels named.
    pub(super) fn demoted(&self, e: &RedisError) -> bool {
        matches!(self, Self::Sentinels(_))
            && e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
    }
}

/// A connection to one server, within `timeout`, then with `timeout` on every read and write.
pub(super) fn connect_raw(client: &Client, timeout: Duration) -> Result<Connection, RedisError> {
    let con = client.get_connection_with_timeout(timeout)?;
    con.set_read_timeout(Some(timeout))?;
    con.set_write_timeout(Some(timeout))?;
    Ok(con)
}

impl RedisStore {
    /// Runs `f` on the connection, connecting again first if the last request broke it, and
    /// again (once) should the server have become a replica by a failover.
    pub(super) fn with<T>(
        &self,
        f: impl FnMut(&mut dyn ConnectionLike) -> Result<T, RedisError>,
    ) -> Result<T> {
        self.on_connection(f)
            .map_err(|(stage, e)| failed(&self.url, self.timeout, stage)(e))
    }

    /// The same with the `redis` crate's error, and the stage it failed at.
    pub(super) fn on_connection<T>(
        &self,
        mut f: impl FnMut(&mut dyn ConnectionLike) -> Result<T, RedisError>,
    ) -> Result<T, (Stage, RedisError)> {
        let mut con = self.con.borrow_mut();
        let connect = |con: &mut Con| {
            *con = self
                .target
                .connect(self.timeout)
                .map_err(|e| (Stage::Connect, e))?;
            Ok(())
        };
        if !con.is_open() {
            connect(&mut con)?;
        }
        match f(&mut **con) {
            Err(e) if self.target.demoted(&e) => {
                connect(&mut con)?;
                f(&mut **con)
            }
            other => other,
        }
        .map_err(|e| (Stage::Request, e))
    }
}

/// What a connection was doing when it failed.
#[derive(Clone, Copy)]
pub(super) enum Stage {
    Connect,
    Request,
}

/// How an error of the `redis` crate reads as a store error: a timeout whatever the stage, else
/// a failure to connect or of a request.
pub(super) fn failed(
    url: &str,
    timeout: Duration,
    stage: Stage,
) -> impl Fn(RedisError) -> StoreError {
    move |source| {
        let url = url.to_owned();
        match stage {
            _ if source.is_timeout() => StoreError::Timeout {
                url,
                after: timeout,
            },
            Stage::Connect => StoreError::Connect { url, source },
            Stage::Request => StoreError::Redis { url, source },
        }
    }
}
