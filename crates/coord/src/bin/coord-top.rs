//! `coord-top`: the live terminal view behind `coord top` (the fleet, the task queue and the
//! event log, read again every second), drawn by `coord-top` the library on the store the
//! command line names, through the same service as every command.
//!
//! It is a binary of its own so that `coord`, which agents' hooks start on every tool call,
//! links no terminal UI: a larger binary costs every hook at start. `coord top` execs it.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use coord_core::Policy;
use coord_service::{HostInfo, Service};
use coord_store::{Config, StoreUrl};
use coord_top::{Options, TopError};

/// The fleet live in the terminal: q, Esc or Ctrl-C quits; tab switches panes; the arrows
/// select a row and explain it; s/S or 1-8 sort, i reverses; f filters by state; r reloads.
#[derive(Debug, Parser)]
#[command(name = "coord-top", version)]
struct Args {
    /// The store (see `coord --help`).
    #[arg(long, env = "COORD_URL", hide_env_values = true)]
    url: Option<String>,
    /// The fleet to watch.
    #[arg(long, env = "COORD_NAMESPACE", default_value = "default")]
    namespace: String,
    /// How often to read the store again (at least 100ms).
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    interval: Duration,
}

/// The shortest interval: the view reads the whole fleet each time.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (for example 500ms, 2s)"))?;
    if d < MIN_INTERVAL {
        return Err(format!("at least {}ms", MIN_INTERVAL.as_millis()));
    }
    Ok(d)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match top(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coord top: {e:#}");
            let usage = e
                .downcast_ref::<coord_store::StoreError>()
                .is_some_and(|e| matches!(e, coord_store::StoreError::Url { .. }))
                || e.downcast_ref::<TopError>()
                    .is_some_and(|e| matches!(e, TopError::NotATerminal));
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn top(args: &Args) -> anyhow::Result<()> {
    let url = StoreUrl::parse(args.url.as_deref(), |k| std::env::var(k).ok())?;
    let policy =
        coord_service::hosts::namespace_limits(Policy::default(), |k| std::env::var(k).ok())
            .map_err(anyhow::Error::msg)?;
    let store = coord_store::open(&url, &Config::new(&args.namespace).judged_by(&policy))
        .with_context(|| format!("cannot open the store {url}"))?;
    let service = Service::new(store, HostInfo::current(), policy);
    let options = Options {
        interval: args.interval,
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    coord_top::run(&service, &options)?;
    Ok(())
}
