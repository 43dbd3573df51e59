//! `coord register`: register the calling process (or `--pid`) and print the session id.

use std::process::ExitCode;

use coord_core::Source;
use coord_service::RegisterRequest;

use super::Context;
use crate::cli::RegisterArgs;
use crate::render::outln;

/// Runs `coord register`.
pub fn run(ctx: &Context, args: &RegisterArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let cwd = std::env::current_dir().ok();
    let log_path = args.log.as_ref().map(|p| match &cwd {
        Some(cwd) if p.is_relative() => cwd.join(p),
        _ => p.clone(),
    });
    let session = service.register(RegisterRequest {
        id: args.id.clone(),
        pid: Some(args.pid.unwrap_or_else(coord_service::host::parent_pid)),
        runtime: args.runtime,
        task: args.task.clone(),
        cwd,
        labels: args.label_map(),
        log_path,
        policy: (&args.policy).into(),
        source: Some(Source::Cli),
        restart: args.restart,
        ..RegisterRequest::default()
    })?;
    outln!("{}", session.id);
    Ok(ExitCode::SUCCESS)
}
