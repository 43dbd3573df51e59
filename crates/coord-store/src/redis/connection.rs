//! The fleet backend's connection: to the one server a URL names, to the master its sentinels
//! name now ([`sentinel`](super::sentinel)), or to a Redis Cluster through the `redis` crate's
//! cluster client, which follows `MOVED` and `ASK` as slots move.
//!
//! Every step is bounded by the store's timeout: connecting, then every read and write. A
//! connection that broke (for a cluster: that lost a node) is made again before the next
//! request; one that reached a master a failover made a replica (`READONLY`) is made again and
//! the request sent once more, which is safe since a replica refused it whole.

use std::time::Duration;

use ::redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use ::redis::{
    Client, Cmd, Connection, ConnectionLike, ErrorKind, RedisError, RedisResult, ServerErrorKind,
    Value,
};

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
            Self::Cluster(client) => Box::new(OneSlot(client.get_connection()?)),
        })
    }

    /// Whether `e` leaves a cluster connection unfit for the next request: a node it reached
    /// is gone, and the cluster client will not look again at who serves its slots unless it
    /// is told to move, so the next request starts from a fresh connection.
    fn lost(&self, e: &RedisError) -> bool {
        matches!(self, Self::Cluster(_)) && (e.is_io_error() || e.is_timeout())
    }

    /// Whether `e` says the server is no longer the master the sentinels named.
    pub(super) fn demoted(&self, e: &RedisError) -> bool {
        matches!(self, Self::Sentinels(_))
            && e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
    }
}

/// A connection to a cluster that takes pipelines: the cluster client sends one to the node of
/// its first command's key, which is right for a store whose every key is on one slot. A
/// command of it that a node sends elsewhere is run again alone (see [`super::batch`]).
struct OneSlot(ClusterConnection);

impl ConnectionLike for OneSlot {
    fn supports_pipelining(&self) -> bool {
        true
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        self.0.req_command(cmd)
    }

    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.0.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }

    fn check_connection(&mut self) -> bool {
        self.0.check_connection()
    }

    fn is_open(&self) -> bool {
        self.0.is_open()
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
        let mut slot = self.con.borrow_mut();
        let connect = |slot: &mut Option<Con>| -> Result<(), (Stage, RedisError)> {
            *slot = None;
            let con = self
                .target
                .connect(self.timeout)
                .map_err(|e| (Stage::Connect, e))?;
            *slot = Some(con);
            Ok(())
        };
        if !slot.as_ref().is_some_and(|con| con.is_open()) {
            connect(&mut slot)?;
        }
        let con = slot.as_mut().expect("connected above");
        let answer = match f(&mut **con) {
            Err(e) if self.target.demoted(&e) => {
                connect(&mut slot)?;
                f(&mut **slot.as_mut().expect("connected above"))
            }
            other => other,
        };
        if answer.as_ref().is_err_and(|e| self.target.lost(e)) {
            *slot = None;
        }
        answer.map_err(|e| (Stage::Request, e))
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
