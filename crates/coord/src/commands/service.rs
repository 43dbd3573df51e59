//! `coord service install|uninstall`: runs the per-host watcher (`coord watch --all`) as a
//! service of the user's systemd. The unit itself is `coord-setup`'s; this command fills it
//! with this coord and the shell's store and fleet, and calls `systemctl --user`. Without
//! systemd, it says how to run the watcher otherwise.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::Context as _;
use coord_setup::service::{
    UNIT_NAME, UnitOutcome, install_unit, uninstall_unit, unit_path, unit_text,
};

use super::Context;
use crate::cli::{ServiceAction, ServiceArgs};
use crate::render::outln;

/// Runs `coord service`.
pub fn run(ctx: &Context, args: &ServiceArgs) -> anyhow::Result<ExitCode> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set: cannot find the user's systemd directory")?;
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
    let path = unit_path(&home, xdg.as_deref());
    match args.action {
        ServiceAction::Install { no_start } => {
            let coord = std::env::current_exe()
                .and_then(|p| p.canonicalize())
                .context("cannot find this coord binary")?;
            let mut env = vec![("COORD_NAMESPACE", ctx.namespace())];
            if let Some(url) = ctx.url() {
                env.insert(0, ("COORD_URL", url));
            }
            let token = std::env::var("COORD_TOKEN").ok();
            if let Some(token) = token.as_deref().filter(|t| !t.is_empty()) {
                env.push(("COORD_TOKEN", token));
            }
            let outcome = install_unit(&path, &unit_text(&coord, &env))?;
            let said = match outcome {
                UnitOutcome::Unchanged => "already installed",
                UnitOutcome::Updated => "updated",
                _ => "installed",
            };
            outln!("{said}: {}", path.display());
            if !no_start {
                start(outcome);
            }
        }
        ServiceAction::Uninstall { no_start } => {
            if !no_start && path.exists() {
                // A unit that is not running or not known is no reason to keep its file.
                let _ = systemctl(&["disable", "--now", UNIT_NAME]);
            }
            let outcome = uninstall_unit(&path)?;
            if !no_start && outcome == UnitOutcome::Removed {
                let _ = systemctl(&["daemon-reload"]);
            }
            match outcome {
                UnitOutcome::Removed => outln!("removed: {}", path.display()),
                _ => outln!("not installed: {}", path.display()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Enables and (re)starts the unit; without a user systemd, says how to run the watcher.
fn start(outcome: UnitOutcome) {
    let started = systemctl(&["daemon-reload"])
        .and_then(|()| systemctl(&["enable", "--now", UNIT_NAME]))
        .and_then(|()| {
            if outcome == UnitOutcome::Updated {
                systemctl(&["restart", UNIT_NAME])
            } else {
                Ok(())
            }
        });
    match started {
        Ok(()) => outln!("started: systemctl --user status {UNIT_NAME}"),
        Err(why) => {
            outln!(
                "not started: {why}\n\
                 Without a user systemd, run the watcher in a way that outlives the shell, for \
                 example:\n  nohup coord watch --all >/dev/null 2>&1 &\n\
                 or from cron at boot: @reboot coord watch --all"
            );
        }
    }
}

/// Runs `systemctl --user ARGS`; the reason when it cannot.
fn systemctl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run systemctl ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "systemctl --user {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
