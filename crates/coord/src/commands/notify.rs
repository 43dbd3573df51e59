//! `coord notify test`: a sample event through every rule of the config file, one rule after
//! the other, each attempt waited for; one line per rule, ok or why not, exit 1 if any failed.
//!
//! Also where notifications keep their files, for `coord watch`, `coord config` and `coord
//! doctor`: the config file, and the status file where the watcher keeps each rule's counters.

use std::path::PathBuf;
use std::process::ExitCode;

use coord_notify::{Config, Event};
use coord_service::HostInfo;

use crate::cli::{NotifyAction, NotifyArgs};
use crate::render::outln;

/// Where the config file is (`$XDG_CONFIG_HOME/coord/config.toml`, else
/// `~/.config/coord/config.toml`).
pub fn config_path() -> anyhow::Result<PathBuf> {
    Ok(coord_notify::config::path(|k| std::env::var(k).ok())?)
}

/// The config file's path and what it says (no rules if it is missing).
pub fn load_config() -> anyhow::Result<(PathBuf, Config)> {
    let path = config_path()?;
    let config = Config::load(&path)?;
    Ok((path, config))
}

/// Where the per-host watcher keeps the counters of each rule's channel.
pub fn status_path() -> anyhow::Result<PathBuf> {
    Ok(coord_store::url::state_dir(|k| std::env::var(k).ok())?.join("notify.json"))
}

/// Runs `coord notify`.
pub fn run(args: &NotifyArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        NotifyAction::Test => test(),
    }
}

/// Sends the sample event through every rule.
fn test() -> anyhow::Result<ExitCode> {
    let (path, config) = load_config()?;
    if config.rules.is_empty() {
        outln!("no [[notify]] rules in {}: nothing to send", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let event = Event::sample(&HostInfo::current().name, coord_notify::stats::wall_clock());
    let mut failed = 0;
    for (i, rule) in config.rules.iter().enumerate() {
        let what = format!("rule {} ({})", i + 1, rule.channel.describe());
        match rule.channel.send(&event) {
            Ok(()) => outln!("ok    {what}"),
            Err(e) => {
                failed += 1;
                outln!("fail  {what}: {e}");
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
