//! `coord serve`: the network face of coord (JSON-RPC over HTTP and WebSocket, metrics, a
//! health check, the leader's sweeps), served by `coord-server` on the store the command line
//! names. Prints the address it listens on, then serves until SIGINT or SIGTERM.
//!
//! Logs go to stderr, warnings only unless `COORD_LOG` names a level (`info`, `debug`…).

use std::io::Write;
use std::process::ExitCode;

use coord_core::Policy;
use coord_server::{ServeOptions, Server, ServerError};
use tracing_subscriber::filter::LevelFilter;

use super::{Context, Patience, UsageError};
use crate::cli::ServeArgs;

/// Runs `coord serve`.
pub fn run(ctx: &Context, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    ctx.store_url()?;
    let level = std::env::var("COORD_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(LevelFilter::WARN);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    let defaults = Policy::default();
    let policy = Policy {
        evict_grace: args.grace.unwrap_or(defaults.evict_grace),
        lock_delay: args.lock_delay.unwrap_or(defaults.lock_delay),
        ..defaults
    };
    let store = Context::new(ctx.url().map(str::to_owned), ctx.namespace().to_owned());
    // Short store waits (the hook's): a call has 2 s in all, and a store that is locked or
    // unreachable should fail the call and count in the breaker, not hold a pooled handle.
    let open = move || store.service_with(Patience::Hook, policy);
    let options = ServeOptions {
        listen: args.listen,
        token: args.token.clone(),
        namespace: ctx.namespace().to_owned(),
        ..ServeOptions::default()
    };
    let server = Server::bind(options, open).map_err(|e| match e {
        ServerError::Exposed(_) => UsageError(e.to_string()).into(),
        e => anyhow::Error::from(e),
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", server.local_addr()?)?;
    out.flush()?;
    drop(out);
    server.run()?;
    Ok(ExitCode::SUCCESS)
}
