//! `coord heartbeat`: renew a session. With `--hook` this is the hook path, run on every tool
//! call of every agent: it must cost about one process start, never block the agent, and exit
//! 0 silently whatever happens (bad arguments, garbage on stdin, a missing, locked or corrupt
//! store, even a bug in coord).

use std::process::ExitCode;

use coord_core::agent_event::HookPayload;
use coord_core::{Beat, Phase, Source, Timestamp};
use coord_service::leader::DEFAULT_LEADER_LEASE;
use coord_service::{RegisterRequest, host};

use super::{Context, Patience};
use crate::cli::{HeartbeatArgs, PhaseArg};
use crate::hook_input::{self, Input};
use crate::render::outln;

/// Runs `coord heartbeat` without `--hook`: errors are reported.
pub fn run(ctx: &Context, args: &HeartbeatArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let observed_at = service.now()?;
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| service.default_id(host::parent_pid()));
    service.heartbeat(&id, &beat(args, Source::Cli, observed_at))?;
    if args.lead {
        let leadership = service.lead(&id, DEFAULT_LEADER_LEASE)?;
        match &leadership.leader {
            _ if leadership.is(&id) => outln!("leader"),
            Some((leader, _)) => outln!("follower (leader: {leader})"),
            None => outln!("follower"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The hook path of `coord heartbeat --hook`: errors are the caller's to swallow.
pub fn hook(ctx: &Context, args: &HeartbeatArgs) -> anyhow::Result<()> {
    let event = match hook_input::read(hook_input::WAIT) {
        Input::Garbage => return Ok(()),
        Input::Event(e) => *e,
        Input::Nothing => HookPayload::default(),
    };
    let service = ctx.service_with(Patience::Hook, |p| p)?;
    let observed_at = service.now()?;
    let id = match args.id.clone().or(event.session_id) {
        Some(id) => id,
        None => service.default_id(super::hook::agent_pid().unwrap_or_else(host::parent_pid)),
    };
    let fallback = || RegisterRequest {
        pid: super::hook::agent_pid(),
        cwd: event.cwd.map(Into::into),
        log_path: event.transcript_path.map(Into::into),
        source: Some(Source::Hook),
        ..RegisterRequest::default()
    };
    service.heartbeat_or_register(&id, &beat(args, Source::Hook, observed_at), fallback)?;
    Ok(())
}

fn beat(args: &HeartbeatArgs, source: Source, observed_at: Timestamp) -> Beat {
    let phase = args.phase.map(|p| match p {
        PhaseArg::Working => Phase::Working,
        PhaseArg::Waiting => Phase::Waiting,
        PhaseArg::InTool => Phase::InTool {
            tool: args.tool.clone().unwrap_or_else(|| "tool".to_owned()),
            since: observed_at,
        },
    });
    Beat {
        phase,
        progress: args.progress.clone(),
        ..Beat::activity(source, observed_at)
    }
}
