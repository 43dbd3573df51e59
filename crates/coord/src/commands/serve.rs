//! `coord serve`: starts `coord-serve`, the server binary installed beside coord, with the store
//! and the namespace this command line names. The server is a binary of its own so that
//! `coord`, which every agent hook starts, links no async runtime.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

use super::Context;
use crate::cli::ServeArgs;

/// Runs `coord serve`: becomes `coord-serve`.
pub fn run(ctx: &Context, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let server = std::env::current_exe()
        .context("cannot find the coord binary")?
        .with_file_name("coord-serve");
    if !server.is_file() {
        bail!(
            "{} is missing: coord serve needs coord-serve beside coord (cargo install installs both)",
            server.display()
        );
    }
    let mut cmd = Command::new(&server);
    cmd.arg("--listen")
        .arg(args.listen.to_string())
        .env("COORD_NAMESPACE", ctx.namespace());
    if let Some(url) = ctx.url() {
        cmd.env("COORD_URL", url);
    }
    if let Some(token) = &args.token {
        cmd.env("COORD_TOKEN", token);
    }
    for origin in &args.allow_origins {
        cmd.arg("--allow-origin").arg(origin);
    }
    if let Some(grace) = args.grace {
        cmd.arg("--grace").arg(format!("{}ms", grace.as_millis()));
    }
    if let Some(delay) = args.lock_delay {
        cmd.arg("--lock-delay")
            .arg(format!("{}ms", delay.as_millis()));
    }
    if let Some(keep) = args.keep {
        cmd.arg("--keep").arg(format!("{}ms", keep.as_millis()));
    }
    let err = cmd.exec();
    bail!("cannot start {}: {err}", server.display())
}
