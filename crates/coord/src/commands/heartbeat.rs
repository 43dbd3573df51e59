//! `coord heartbeat`: renew a session. With `--hook` this is the hook path, run on every tool
//! call of every agent: it must cost about one process start, never block the agent, and exit
//! 0 silently whatever happens (bad arguments, garbage on stdin, a missing, locked or corrupt
//! store, even a bug in coord).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use coord_core::{Beat, Phase, Policy, Source, Timestamp};
use coord_service::{RegisterRequest, host};

use super::{Context, wall_clock};
use crate::cli::{Cli, Command, HeartbeatArgs, PhaseArg};
use crate::hook_input::{self, Input};

/// How long the hook path waits for a store another writer holds.
const HOOK_BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs `coord heartbeat` without `--hook`: errors are reported.
pub fn run(ctx: &Context, args: &HeartbeatArgs) -> anyhow::Result<ExitCode> {
    let observed_at = wall_clock();
    let service = ctx.service()?;
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| service.default_id(host::parent_pid()));
    service.heartbeat(&id, &beat(args, Source::Cli, observed_at))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs a command line that carries `--hook`: exit 0, print nothing, whatever happens.
pub fn run_as_hook() -> ExitCode {
    std::panic::set_hook(Box::new(|_| {}));
    let _ = std::panic::catch_unwind(|| {
        if let Ok(Cli {
            url,
            namespace,
            command: Command::Heartbeat(args),
        }) = Cli::try_parse()
        {
            let _ = hook(&Context::new(url, namespace), &args);
        }
    });
    ExitCode::SUCCESS
}

fn hook(ctx: &Context, args: &HeartbeatArgs) -> anyhow::Result<()> {
    let observed_at = wall_clock();
    let event = match hook_input::read(hook_input::WAIT) {
        Input::Garbage => return Ok(()),
        Input::Event(e) => e,
        Input::Nothing => hook_input::HookEvent::default(),
    };
    // Claude Code tells its hooks which process it is; the hook's parent is a short-lived shell.
    let agent_pid = std::env::var("CLAUDE_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| host::start_time(*p).is_some());
    let service = ctx.service_with(HOOK_BUSY_TIMEOUT, Policy::default())?;
    let id = args
        .id
        .clone()
        .or(event.session_id)
        .unwrap_or_else(|| service.default_id(agent_pid.unwrap_or_else(host::parent_pid)));
    let fallback = RegisterRequest {
        pid: agent_pid,
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
