//! `coord watch --pid P`: the sidecar. Holds the process, renews its session while it lives,
//! records its end the moment it comes, then exits. It never kills anything.

use std::process::ExitCode;

use anyhow::Context as _;
use coord_core::{Phase, ProcessFact, Source};
use coord_service::process::Held;
use coord_service::{RegisterRequest, host};

use super::Context;
use crate::cli::WatchArgs;

/// Runs `coord watch`.
pub fn run(ctx: &Context, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let start = host::start_time(args.pid)
        .with_context(|| format!("no running process with pid {}", args.pid))?;
    let held = Held::open(args.pid, Some(start))?;
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| service.default_id(args.pid));
    let log = args
        .log
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    // Attach to the session if it is this very process; otherwise register it.
    let session = match service.session(&id)? {
        Some(s)
            if s.pid == Some(args.pid)
                && s.pid_start == Some(start)
                && s.phase != Phase::Ended
                && !matches!(s.process, ProcessFact::Exited { .. }) =>
        {
            s
        }
        _ => service.register(RegisterRequest {
            id: Some(id.clone()),
            pid: Some(args.pid),
            log_path: log.clone(),
            source: Some(Source::Watch),
            ..RegisterRequest::default()
        })?,
    };
    let log = log
        .map(|p| p.display().to_string())
        .or(session.log_path.clone());
    service.watch(
        &id,
        session.incarnation,
        &held,
        args.interval,
        log.as_deref(),
    )?;
    Ok(ExitCode::SUCCESS)
}
