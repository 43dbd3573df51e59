//! `coord serve`: the network face of coord. JSON-RPC 2.0 over HTTP (`POST /rpc`, single calls
//! and batches) and over a WebSocket (`GET /ws`, with live events), the ClaudeBench `system.*`
//! instance API and coord's own `session.*`, `task.*`, `host.list`, `events.*`, a health
//! check, Prometheus metrics and a live dashboard for people (`GET /`).
//!
//! The server adds transport, not logic: every method calls [`coord_service::Service`]. It is
//! the only place in coord with an async runtime (tokio, axum), built by [`Server::run`]
//! itself. A `Service` holds a store connection and is not `Sync`, so the server keeps a small
//! pool of handles and runs every call on a blocking thread with one of them ([`gate`]).
//!
//! What protects it: a body limit (1 MiB) and a batch limit (100), a time budget per call
//! (2 s), a rate limit per instance (1000 calls a minute), a circuit breaker toward the store
//! ([`limits`]), loopback by default and a bearer token for any other address ([`auth`]), and
//! no web page of another origin unless `--allow-origin` names it ([`cors`]).
//! While it runs it is a session of the fleet and, when it leads, sweeps it ([`leader`]).
//!
//! - [`rpc`]: the envelope, error codes and answers.
//! - [`dispatch`]: from a body to its answers.
//! - [`methods`]: the method table; [`work`]: what a call runs, and a group of calls' runs of
//!   like changes applied together.
//! - [`http`], [`ws`]: the routes (and ClaudeBench's WebSocket actions, [`ws::actions`]);
//!   [`feed`]: the live event feed.
//! - [`metrics`]: what `GET /metrics` shows.
//! - [`dashboard`]: the page `GET /` serves, embedded in the binary.

mod auth;
mod cors;
mod dashboard;
mod dispatch;
mod feed;
mod gate;
mod http;
mod leader;
mod limits;
mod methods;
mod metrics;
mod rpc;
mod work;
mod writer;
mod ws;

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use coord_service::Service;

pub use auth::Token;
pub use cors::{BadOrigin, Origin};
pub use gate::BoxError;

use crate::cors::Origins;
use crate::feed::Feed;
use crate::gate::{Gate, Opener};
use crate::limits::{Breaker, RateLimit};
use crate::metrics::Metrics;

/// The largest body (or WebSocket message) taken.
pub const MAX_BODY: usize = 1024 * 1024;

/// The most requests in one batch.
pub const MAX_BATCH: usize = 100;

/// The last-resort bound on one HTTP request, whatever it holds (each call has its own, much
/// shorter, budget).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The budget of the server's own long work (its leader round, finding the end of the log).
const LONG_BUDGET: Duration = Duration::from_secs(30);

/// How long a stopping server waits for calls still running on the store.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Where to listen; a non-loopback address needs a token.
    pub listen: SocketAddr,
    /// The bearer token every request must carry, if any.
    pub token: Option<Token>,
    /// The namespace the store was opened on (shown in `session.list`).
    pub namespace: String,
    /// How many service handles (store connections) calls share.
    pub handles: usize,
    /// The time budget of one call.
    pub call_timeout: Duration,
    /// Calls allowed per instance (or client address) and minute.
    pub rate_per_minute: NonZeroU32,
    /// The store takes one writer at a time (the embedded store): changes go to one writer
    /// thread, which runs whatever waits as one group, instead of contending for the store's
    /// lock.
    pub one_writer: bool,
    /// The origins of the web pages that may call the server from a browser (CORS, and the
    /// WebSocket's `Origin` check); none by default.
    pub allow_origins: Vec<Origin>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7077)),
            token: None,
            namespace: "default".to_owned(),
            handles: 4,
            call_timeout: Duration::from_secs(2),
            rate_per_minute: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
            one_writer: false,
            allow_origins: Vec::new(),
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A non-loopback address without a token.
    #[error(
        "refusing to listen on {0} without a token: anyone who can reach it could register, end \
         and reassign sessions. Pass --token (or set COORD_TOKEN), or listen on a loopback \
         address such as 127.0.0.1"
    )]
    Exposed(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(BoxError),
    /// The async runtime could not be built, or the listener handed to it.
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
    /// Serving failed.
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// What every request handler shares.
struct App {
    gate: Gate,
    limit: RateLimit,
    metrics: Metrics,
    methods: methods::Context,
    feed: Feed,
    origins: Origins,
    budget: Duration,
    long_budget: Duration,
    max_batch: usize,
}

/// A server bound to its address, not yet serving.
pub struct Server {
    options: ServeOptions,
    listener: TcpListener,
    first: Service,
    open: Arc<Opener>,
}

impl Server {
    /// Checks the options, opens the store once (so a store that cannot be opened fails now,
    /// not at the first call) and binds the address.
    pub fn bind<F, E>(options: ServeOptions, open: F) -> Result<Self, ServerError>
    where
        F: Fn(&str) -> Result<Service, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        if !auth::may_listen(options.listen, options.token.as_ref()) {
            return Err(ServerError::Exposed(options.listen));
        }
        let open: Arc<Opener> = Arc::new(move |ns: &str| open(ns).map_err(Into::into));
        let first = open(&options.namespace).map_err(ServerError::Store)?;
        let listener = TcpListener::bind(options.listen).map_err(|source| ServerError::Bind {
            addr: options.listen,
            source,
        })?;
        Ok(Self {
            options,
            listener,
            first,
            open,
        })
    }

    /// The address it listens on (the port chosen, when asked for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::Runtime)
    }

    /// Serves until SIGINT or SIGTERM, then ends the server's session and returns.
    pub fn run(self) -> Result<(), ServerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("coord-serve")
            .build()
            .map_err(ServerError::Runtime)?;
        let outcome = runtime.block_on(self.serve());
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
        outcome
    }

    async fn serve(self) -> Result<(), ServerError> {
        let Self {
            options,
            listener,
            first,
            open,
        } = self;
        listener
            .set_nonblocking(true)
            .map_err(ServerError::Runtime)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(ServerError::Runtime)?;
        let id = leader::session_id(&first.host().name);
        let metrics = Metrics::new();
        let on_change = metrics.clone();
        let breaker = Breaker::new(move |state| {
            on_change.breaker(state.level());
            tracing::warn!(state = state.name(), "the circuit breaker toward the store");
        });
        let app = Arc::new(App {
            gate: Gate::new(
                options.handles,
                &options.namespace,
                first,
                open,
                breaker,
                options.one_writer.then(|| metrics.clone()),
            )
            .map_err(ServerError::Runtime)?,
            limit: RateLimit::per_minute(options.rate_per_minute),
            methods: methods::Context {
                metrics: metrics.clone(),
                namespace: options.namespace.clone(),
                seq_hint: Arc::new(AtomicU64::new(0)),
            },
            metrics,
            feed: Feed::new(),
            origins: Origins::new(&options.allow_origins),
            budget: options.call_timeout,
            long_budget: LONG_BUDGET,
            max_batch: MAX_BATCH,
        });
        let feed = tokio::spawn(feed::run(Arc::clone(&app)));
        let duty = tokio::spawn(leader::run(Arc::clone(&app), id.clone()));
        tracing::info!(addr = %options.listen, "coord serve is listening");
        let routes = http::router(Arc::clone(&app), options.token);
        let served = axum::serve(
            listener,
            routes.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped())
        .await;
        feed.abort();
        duty.abort();
        leader::step_down(&app, id).await;
        served.map_err(ServerError::Serve)
    }
}

/// Binds and serves until stopped: [`Server::bind`] then [`Server::run`].
pub fn serve<F, E>(options: ServeOptions, open: F) -> Result<(), ServerError>
where
    F: Fn(&str) -> Result<Service, E> + Send + Sync + 'static,
    E: Into<BoxError>,
{
    Server::bind(options, open)?.run()
}

/// Resolves on SIGINT or SIGTERM.
async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
}
