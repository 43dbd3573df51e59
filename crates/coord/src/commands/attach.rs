//! `coord attach ID`: takes the person to the agent, in the tmux pane it runs in. Inside a
//! client of the pane's server the client switches to it; elsewhere on this host a new client
//! attaches (coord's process becomes it); on another host it prints the line to run there.
//! `--print` prints the command instead of running it.

use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, anyhow, bail};
use coord_service::attach::{Target, Way, way};
use coord_service::discover::tmux;

use super::Context;
use crate::cli::AttachArgs;

/// Runs `coord attach`.
pub fn run(ctx: &Context, args: &AttachArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let session = service.session(&args.id)?.ok_or_else(|| {
        anyhow!(
            "no session `{}` in namespace `{}`",
            args.id,
            ctx.namespace()
        )
    })?;
    let in_tmux = std::env::var_os("TMUX").and_then(|v| tmux::socket_in(v.as_bytes()));
    let way = way(&session, &service.host().name, in_tmux.as_deref())?;
    match way {
        Way::Elsewhere { host, line } => {
            if args.print {
                println!("{line}");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "coord: {} runs on {host}, not on this host; attach there with:",
                session.id
            );
            println!("{line}");
            Ok(ExitCode::FAILURE)
        }
        Way::Switch(target) => {
            if args.print {
                println!("{}", target.line("switch-client"));
                return Ok(ExitCode::SUCCESS);
            }
            still_there(&target, &session.id)?;
            let status = tmux(&target)
                .args(["switch-client", "-t", &target.pane])
                .status()
                .context("cannot run tmux (is it installed?)")?;
            Ok(if status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Way::Attach(target) => {
            if args.print {
                println!("{}", target.attach_line());
                return Ok(ExitCode::SUCCESS);
            }
            still_there(&target, &session.id)?;
            // Another tmux server's client cannot nest one of this server: tmux would refuse.
            let error = tmux(&target)
                .env_remove("TMUX")
                .args(["attach-session", "-t", &target.pane])
                .exec();
            Err(error).context("cannot run tmux (is it installed?)")
        }
    }
}

/// `tmux` with the arguments that reach the target's server.
fn tmux(target: &Target) -> Command {
    let mut cmd = Command::new("tmux");
    cmd.args(target.server_args());
    cmd
}

/// An error saying why, unless the pane of session `id` still exists.
fn still_there(target: &Target, id: &str) -> anyhow::Result<()> {
    let out = tmux(target)
        .args(["display-message", "-p", "-t", &target.pane, "#{pane_id}"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run tmux (is it installed?)")?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let server = target
            .socket
            .as_ref()
            .map_or_else(|| "the default one".to_owned(), |s| s.display().to_string());
        bail!(
            "the pane `{}` of {id} is gone (tmux server {}: {})",
            target.pane,
            server,
            why.trim()
        );
    }
    Ok(())
}
