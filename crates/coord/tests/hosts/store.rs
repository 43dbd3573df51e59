//! The store the simulated hosts share, a private Redis (`support::RedisServer`) or a
//! `coord serve` over the embedded store, and how a host's proxy reaches it.

use std::net::SocketAddr;

use super::Target;
use crate::common::serve::Served;
use crate::support::RedisServer;

/// A `coord serve` on a free loopback port over a private embedded store (killed when
/// dropped; its world is `served.world`).
pub fn serve_embedded() -> Served {
    Served::start(crate::common::World::new(), &[])
}

/// Which kind of store a host's proxy leads to, so which URL coord is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// `redis://127.0.0.1:PORT/0`.
    Redis,
    /// `http://127.0.0.1:PORT` (a `coord serve`).
    Http,
}

/// Where a host's proxy forwards to, and how coord reaches it.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// What the proxy connects to.
    pub target: Target,
    /// The URL form coord is given.
    scheme: Scheme,
}

impl Upstream {
    /// The Redis server `server`.
    pub fn redis(server: &RedisServer) -> Self {
        Self {
            target: Target::Unix(server.socket()),
            scheme: Scheme::Redis,
        }
    }

    /// The `coord serve` `served`.
    pub fn served(served: &Served) -> Self {
        let addr: SocketAddr = served.addr.parse().expect("coord serve's address");
        Self {
            target: Target::Tcp(addr),
            scheme: Scheme::Http,
        }
    }

    /// `COORD_URL` for a client whose proxy listens on `addr`.
    pub fn url_via(&self, addr: SocketAddr) -> String {
        match self.scheme {
            Scheme::Redis => format!("redis://{addr}/0"),
            Scheme::Http => format!("http://{addr}"),
        }
    }
}
