//! `coord unregister`: end a session cleanly.

use std::process::ExitCode;

use coord_core::Source;

use super::Context;
use crate::cli::UnregisterArgs;

/// Runs `coord unregister`.
pub fn run(ctx: &Context, args: UnregisterArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let id = args
        .id
        .unwrap_or_else(|| service.default_id(coord_service::host::parent_pid()));
    service.unregister(&id, Source::Cli)?;
    Ok(ExitCode::SUCCESS)
}
