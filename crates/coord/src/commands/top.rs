//! `coord top`: starts `coord-top`, the live terminal view installed beside coord, on the store
//! and the namespace this command line names. The view is a binary of its own so that `coord`,
//! which every agent hook starts, links no terminal UI.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

use super::Context;
use crate::cli::TopArgs;

/// Runs `coord top`: becomes `coord-top`.
pub fn run(ctx: &Context, args: &TopArgs) -> anyhow::Result<ExitCode> {
    let view = std::env::current_exe()
        .context("cannot find the coord binary")?
        .with_file_name("coord-top");
    if !view.is_file() {
        bail!(
            "{} is missing: coord top needs coord-top beside coord (cargo install installs both)",
            view.display()
        );
    }
    let mut cmd = Command::new(&view);
    cmd.arg("--interval")
        .arg(format!("{}ms", args.interval.as_millis()))
        .env("COORD_NAMESPACE", ctx.namespace());
    if let Some(url) = ctx.url() {
        cmd.env("COORD_URL", url);
    }
    let err = cmd.exec();
    bail!("cannot start {}: {err}", view.display())
}
