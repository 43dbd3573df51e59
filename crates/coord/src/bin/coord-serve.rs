//! `coord-serve`: the server behind `coord serve` (JSON-RPC over HTTP and WebSocket, metrics, a
//! health check, the leader's sweeps), served by `coord-server` on the store the command line
//! names. Prints the address it listens on, then serves until SIGINT or SIGTERM.
//!
//! It is a binary of its own so that `coord`, which agents' hooks start on every tool call,
//! links no async runtime: a larger binary costs every hook at start. `coord serve` execs it.
//! Logs go to stderr, warnings only unless `COORD_LOG` names a level (`info`, `debug`…).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use coord_core::Policy;
use coord_server::{Origin, ServeOptions, Server, ServerError, Token};
use coord_service::{HostInfo, Service};
use coord_store::{Config, StoreUrl};
use tracing_subscriber::filter::LevelFilter;

/// How long a call may wait for a locked embedded store: a call has 2 s in all, and a store
/// that is locked or unreachable should fail the call and count in the breaker, not hold a
/// pooled handle.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a call may wait to reach a store over the network.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// Serve the fleet over JSON-RPC (HTTP and WebSocket), with metrics and a health check.
#[derive(Debug, Parser)]
#[command(name = "coord-serve", version, about)]
struct Args {
    /// The store (see `coord --help`).
    #[arg(long, env = "COORD_URL", hide_env_values = true)]
    url: Option<String>,
    /// The fleet to serve.
    #[arg(long, env = "COORD_NAMESPACE", default_value = "default")]
    namespace: String,
    /// The address to listen on (IP:port); any but a loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1:7077")]
    listen: SocketAddr,
    /// The bearer token every request must carry (Authorization: Bearer <token>).
    #[arg(long, env = "COORD_TOKEN", hide_env_values = true)]
    token: Option<Token>,
    /// Let web pages of this origin (scheme, host and port, as a browser's Origin header writes
    /// them) call the server from a browser (CORS) and open its WebSocket; repeat for more
    /// [default: none].
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<Origin>,
    /// Evict sessions dead or ended for longer than this [default: 5m].
    #[arg(long, value_parser = parse_duration)]
    grace: Option<Duration>,
    /// Work taken back is not handed out again for this long [default: 5s].
    #[arg(long, value_parser = parse_duration)]
    lock_delay: Option<Duration>,
    /// Remove tasks done or failed longer ago than this, with their history [default: 7d, or
    /// the namespace's own from the environment].
    #[arg(long, value_parser = parse_duration)]
    keep: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (for example 30s, 10m, 1h)"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coord serve: {e:#}");
            let usage = e
                .downcast_ref::<ServerError>()
                .is_some_and(|e| matches!(e, ServerError::Exposed(_)))
                || e.downcast_ref::<coord_store::StoreError>()
                    .is_some_and(|e| matches!(e, coord_store::StoreError::Url { .. }));
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn serve(args: &Args) -> anyhow::Result<()> {
    let url = StoreUrl::parse(args.url.as_deref(), |k| std::env::var(k).ok())?;
    if let StoreUrl::Http(server) = &url {
        return Err(coord_store::StoreError::Url {
            url: server.to_string(),
            why: "coord serve needs a store to serve (sqlite://… or redis://…), not another \
                  coord serve"
                .to_owned(),
        }
        .into());
    }
    let level = std::env::var("COORD_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(LevelFilter::WARN);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    let defaults =
        coord_service::hosts::namespace_limits(Policy::default(), |k| std::env::var(k).ok())
            .map_err(anyhow::Error::msg)?;
    let policy = Policy {
        evict_grace: args.grace.unwrap_or(defaults.evict_grace),
        lock_delay: args.lock_delay.unwrap_or(defaults.lock_delay),
        task_keep: args.keep.unwrap_or(defaults.task_keep),
        ..defaults
    };
    let config = Config {
        busy_timeout: BUSY_TIMEOUT,
        connect_timeout: CONNECT_TIMEOUT,
        ..Config::new(&args.namespace).lasting().judged_by(&policy)
    };
    let one_writer = matches!(url, StoreUrl::Sqlite(_));
    let open = move |namespace: &str| {
        let config = Config {
            namespace: namespace.to_owned(),
            ..config.clone()
        };
        coord_store::open(&url, &config)
            .map(|store| Service::new(store, HostInfo::current(), policy).beside_the_store())
    };
    let options = ServeOptions {
        listen: args.listen,
        token: args.token.clone(),
        namespace: args.namespace.clone(),
        one_writer,
        allow_origins: args.allow_origins.clone(),
        ..ServeOptions::default()
    };
    let server = Server::bind(options, open)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", server.local_addr()?)?;
    out.flush()?;
    drop(out);
    server.run()?;
    Ok(())
}
