//! `coord hook EVENT`: the single entry point agent hooks call, and the silent runner that every
//! hook invocation (`coord hook …`, `coord heartbeat --hook`) goes through.
//!
//! Whatever happens (bad arguments, garbage on stdin, a missing, locked or corrupt store, a bug
//! in coord), a hook invocation prints nothing and exits 0: an agent must never be blocked or
//! disturbed by coord. Claude Code would even take exit code 2 as "block this tool call".

use std::ffi::OsString;
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;
use coord_core::Runtime;
use coord_core::agent_event::{self, NotifyPayload};
use coord_service::{HookContext, host};

use super::{Context, Patience};
use crate::cli::{HookArgs, HookCli, HookCommand};
use crate::hook_input::{self, Input};

/// The event name under which Codex's `notify` program is installed.
pub const CODEX_NOTIFY: &str = "codex-notify";

/// Whether this command line is a hook invocation: `coord hook …` or any `--hook`.
pub fn is_hook_invocation(args: &[OsString]) -> bool {
    args.iter().skip(1).any(|a| a == "--hook") || first_command(args).is_some_and(|c| c == "hook")
}

/// The command this command line names: its first word that is neither an option nor the
/// value of a global option.
pub fn first_command(args: &[OsString]) -> Option<&OsString> {
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if arg == "--url" || arg == "--namespace" {
            rest.next();
        } else if !arg.as_encoded_bytes().starts_with(b"-") {
            return Some(arg);
        }
    }
    None
}

/// Runs a hook invocation: exit 0, print nothing, whatever happens.
pub fn run_silently() -> ExitCode {
    std::panic::set_hook(Box::new(|_| {}));
    let _ = std::panic::catch_unwind(|| {
        let Ok(cli) = HookCli::try_parse() else {
            return;
        };
        let ctx = Context::new(cli.url, cli.namespace);
        let _ = match cli.command {
            HookCommand::Hook(args) => run(&ctx, &args),
            HookCommand::Heartbeat(args) => super::heartbeat::hook(&ctx, &args),
        };
    });
    ExitCode::SUCCESS
}

/// Records one hook event; errors are the caller's to swallow.
fn run(ctx: &Context, args: &HookArgs) -> anyhow::Result<()> {
    if args.event == CODEX_NOTIFY {
        return notify(ctx, args);
    }
    let Input::Event(payload) = hook_input::read(hook_input::WAIT) else {
        return Ok(());
    };
    // An event without a session records nothing (`record_hook` says so too): the store is
    // not even opened for it.
    if payload.session_id.as_deref().is_none_or(str::is_empty) {
        return Ok(());
    }
    // Times come from the store's clock (the Redis server's for a fleet), so that every host
    // orders one session's signals on one clock.
    let service = ctx.service_with(Patience::Hook, |p| p)?;
    let observed_at = service.now()?;
    service.record_hook(
        &args.event,
        &payload,
        observed_at,
        &agent_pid,
        args.task.clone(),
    )?;
    Ok(())
}

/// Codex's `notify`: Codex appends its JSON as the last argument; anything before it is the
/// user's own notify program, which keeps working: it runs first, with the JSON appended.
fn notify(ctx: &Context, args: &HookArgs) -> anyhow::Result<()> {
    let Some((json, chained)) = args.args.split_last() else {
        return Ok(());
    };
    if let Some((program, program_args)) = chained.split_first() {
        let _ = Command::new(program)
            .args(program_args)
            .arg(json)
            .stdin(Stdio::null())
            .spawn();
    }
    let Ok(payload) = serde_json::from_str::<NotifyPayload>(json) else {
        return Ok(());
    };
    let (Some(reading), Some(session_id)) = (agent_event::read_notify(&payload), payload.thread_id)
    else {
        return Ok(());
    };
    let service = ctx.service_with(Patience::Hook, |p| p)?;
    let hook = HookContext {
        session_id,
        observed_at: service.now()?,
        runtime: Some(Runtime::Codex),
        ..HookContext::default()
    };
    service.apply_hook(&reading, &hook)?;
    Ok(())
}

/// The agent process this hook runs under: Claude Code names itself in `CLAUDE_PID`; otherwise
/// the nearest agent among the hook's ancestors.
pub fn agent_pid() -> Option<u32> {
    std::env::var("CLAUDE_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| host::start_time(*p).is_some())
        .or_else(|| host::find_agent(host::parent_pid()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook_call(args: &[&str]) -> bool {
        let args: Vec<OsString> = args.iter().map(Into::into).collect();
        is_hook_invocation(&args)
    }

    #[test]
    fn hook_invocations_are_recognised_wherever_the_global_options_stand() {
        assert!(hook_call(&["coord", "hook", "Stop"]));
        assert!(hook_call(&["coord", "--namespace", "x", "hook", "Stop"]));
        assert!(hook_call(&[
            "coord",
            "--url",
            "sqlite:///a",
            "hook",
            "Stop"
        ]));
        assert!(hook_call(&["coord", "heartbeat", "--hook"]));
        assert!(!hook_call(&["coord", "ps"]));
        assert!(!hook_call(&["coord", "show", "hook"]));
        assert!(!hook_call(&["coord", "--namespace", "hook", "ps"]));
    }
}
