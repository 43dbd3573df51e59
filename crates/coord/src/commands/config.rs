//! `coord config path`: where the config file is (whether it exists or not).

use std::process::ExitCode;

use crate::cli::{ConfigAction, ConfigArgs};
use crate::render::outln;

/// Runs `coord config`.
pub fn run(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        ConfigAction::Path => outln!("{}", super::notify::config_path()?.display()),
    }
    Ok(ExitCode::SUCCESS)
}
