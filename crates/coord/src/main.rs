//! `coord`: which of your agent sessions are alive, working, idle, hung or dead.
//!
//! The binary is a thin adapter: [`cli`] parses the command line, [`commands`] runs one module
//! per command over [`coord_service::Service`], [`render`] prints for people and scripts. This
//! file only maps the outcome to an exit code: 0 success, 1 operational error, 2 usage error.
//! When called from an agent hook (`coord hook …`, `--hook`), it exits 0 silently whatever
//! happens: coord must never block or disturb an agent.

mod cli;
mod commands;
mod hook_input;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    if commands::hook::is_hook_invocation(&args) {
        return commands::hook::run_silently();
    }
    // Scripts call `coord heartbeat` in a loop: the hook path's small parser takes it (building
    // the full one costs as much as the heartbeat's own store work). What it does not take
    // (`--help`, a mistake) goes on to the full parser, which answers properly.
    if commands::hook::first_command(&args).is_some_and(|c| c == "heartbeat")
        && let Ok(cli::HookCli {
            url,
            namespace,
            command: cli::HookCommand::Heartbeat(heartbeat),
        }) = cli::HookCli::try_parse()
    {
        let ctx = commands::Context::new(url, namespace);
        return exit_code(commands::heartbeat::run(&ctx, &heartbeat));
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    exit_code(commands::run(cli))
}

/// The exit code of a command's outcome, its error printed. Output whose reader went away
/// (`coord events | head`) ends the command quietly, as [`render::write_out`] does.
fn exit_code(outcome: anyhow::Result<ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coord: {e:#}");
            ExitCode::from(if e.is::<commands::UsageError>() { 2 } else { 1 })
        }
    }
}
