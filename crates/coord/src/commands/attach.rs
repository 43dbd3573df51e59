//! `coord attach ID`: takes the person to the agent, in the tmux pane it runs in. Inside a
//! client of the pane's server the client switches to it; elsewhere on this host a new client
//! attaches (coord's process becomes it); on another host it prints the line to run there.
//! `--print` prints the command instead of running it.

use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::CommandExt as _;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use coord_service::attach::{Way, way};
use coord_service::discover::tmux;

use super::Context;
use crate::cli::AttachArgs;
use crate::render::outln;

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
                outln!("{line}");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "coord: {} runs on {host}, not on this host; attach there with:",
                session.id
            );
            outln!("{line}");
            Ok(ExitCode::FAILURE)
        }
        Way::Switch(target) => {
            if args.print {
                outln!("{}", target.line("switch-client"));
                return Ok(ExitCode::SUCCESS);
            }
            target.check(&session.id)?;
            let status = target
                .switch()
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
                outln!("{}", target.attach_line());
                return Ok(ExitCode::SUCCESS);
            }
            target.check(&session.id)?;
            let error = target.attach().exec();
            Err(error).context("cannot run tmux (is it installed?)")
        }
    }
}
