//! `coord completions` and `coord man`: what shells and `man` read of the command line, made
//! by `clap_complete` and `clap_mangen` from the parser itself, so that they never disagree with
//! it.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::render::outln;

/// Prints the completions for the shell asked.
pub fn completions(args: &CompletionsArgs) -> ExitCode {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "coord",
        &mut std::io::stdout(),
    );
    ExitCode::SUCCESS
}

/// Writes `coord.1` and a page per command (`coord-ps.1`, `coord-task-claim.1`, …).
pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    clap_mangen::generate_to(Cli::command(), &args.dir)
        .with_context(|| format!("cannot write the man pages in {}", args.dir.display()))?;
    outln!("wrote the man pages to {}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}
