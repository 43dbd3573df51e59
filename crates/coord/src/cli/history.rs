//! `coord events` and `coord report`: the event log, as it is and summed over a window.

use std::time::Duration;

use clap::Args;

use super::parse_duration;

/// `coord events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events after this sequence number.
    #[arg(long, default_value_t = 0)]
    pub since: u64,
    /// Keep printing new events as they come, until interrupted.
    #[arg(long, short)]
    pub follow: bool,
    /// Print JSON: one document, or one event per line with --follow.
    #[arg(long)]
    pub json: bool,
}

/// `coord report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How far back the report goes.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub since: Duration,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
