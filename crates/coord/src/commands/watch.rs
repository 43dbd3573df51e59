//! `coord watch --pid P`: the sidecar. Holds the process, renews its session while it lives,
//! records its end the moment it comes, then exits. It never kills anything. Once the session
//! is registered it becomes `coord-sidecar` (see `src/bin/coord-sidecar.rs`), which holds the
//! process at a fraction of the memory and reports through `coord watch-report`.
//!
//! `coord watch --all`: the per-host watcher ([`coord_service::host_watch`]), until SIGINT or
//! SIGTERM, with the receiver of Claude Code's HTTP hooks on a loopback port beside it
//! ([`coord_service::hook_receiver`]), and the notifications of the config file's rules
//! ([`coord_notify`]; a config file that cannot be used stops it at the start).

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use coord_core::{ExitStatus, Phase, ProcessFact, Source};
use coord_notify::{Dispatcher, Options};
use coord_service::hook_receiver::{self, HookReceiver};
use coord_service::logind::Logind;
use coord_service::process::Held;
use coord_service::{RegisterRequest, Service, host};
use signal_hook::consts::{SIGINT, SIGTERM};

use super::{Context, UsageError};
use crate::cli::{WatchArgs, WatchReportArgs};
use crate::render::outln;

/// Runs `coord watch`.
pub fn run(ctx: &Context, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let Some(pid) = args.pid else {
        return watch_host(ctx, &service, args);
    };
    let start =
        host::start_time(pid).with_context(|| format!("no running process with pid {pid}"))?;
    let held = Held::open(pid, Some(start))?;
    let id = args.id.clone().unwrap_or_else(|| service.default_id(pid));
    let log = args
        .log
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    // Attach to the session if it is this very process; otherwise register it.
    let session = match service.session(&id)? {
        Some(s)
            if s.pid == Some(pid)
                && s.pid_start == Some(start)
                && s.phase != Phase::Ended
                && !matches!(s.process, ProcessFact::Exited { .. }) =>
        {
            s
        }
        _ => service.register(RegisterRequest {
            id: Some(id.clone()),
            pid: Some(pid),
            log_path: log.clone(),
            source: Some(Source::Watch),
            ..RegisterRequest::default()
        })?,
    };
    let log = log
        .map(|p| p.display().to_string())
        .or(session.log_path.clone());
    // Become the small sidecar, if it is installed beside coord; otherwise watch from here.
    if let Some(sidecar) = sidecar() {
        let coord = std::env::current_exe()?;
        let mut cmd = Command::new(sidecar);
        cmd.arg(coord)
            .arg(pid.to_string())
            .arg(start.to_string())
            .arg(args.interval.as_millis().to_string())
            .arg(&id)
            .arg(session.incarnation.to_string());
        if let Some(log) = &log {
            cmd.arg(log);
        }
        let err = cmd.exec();
        eprintln!("coord: cannot start the sidecar ({err}); watching from this process");
    }
    service.watch(
        &id,
        session.incarnation,
        &held,
        args.interval,
        log.as_deref(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the per-host watcher until SIGINT or SIGTERM.
fn watch_host(ctx: &Context, service: &Service, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    if !args.no_hook_listen && !args.hook_listen.ip().is_loopback() {
        return Err(UsageError(format!(
            "--hook-listen {}: hooks are received on a loopback address only (each host runs \
             its own watcher)",
            args.hook_listen
        ))
        .into());
    }
    let mut notify = notifications()?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    eprintln!(
        "coord: watching every session of {} (stop with Ctrl-C)",
        service.host().name
    );
    if !args.no_hook_listen {
        // Without the receiver the watcher still does its main work: say why and go on.
        match receive_hooks(ctx, args.hook_listen) {
            Ok(addr) => eprintln!("coord: receiving HTTP hooks on http://{addr}"),
            Err(e) => eprintln!(
                "coord: not receiving HTTP hooks on {}: {e:#}",
                args.hook_listen
            ),
        }
    }
    // Without logind (no system bus, a container) the host's word is its own commands'.
    match follow_logind(ctx) {
        Ok(inhibits) => eprintln!(
            "coord: following logind's sleep and shutdown{}",
            if inhibits {
                ", which wait for the word"
            } else {
                " (no delay inhibitor)"
            }
        ),
        Err(e) => eprintln!("coord: not following logind: {e:#}"),
    }
    service.watch_host(
        args.interval,
        &|| stop.load(Ordering::Relaxed),
        notify.as_mut(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The notifications of the config file's rules, sending from now on; none without rules (and
/// then no counters of an earlier watcher are left for `coord doctor` to show).
fn notifications() -> anyhow::Result<Option<Dispatcher>> {
    let (path, config) = super::notify::load_config()?;
    let status = super::notify::status_path()?;
    if config.rules.is_empty() {
        let _ = std::fs::remove_file(&status);
        return Ok(None);
    }
    let dispatcher = Dispatcher::start(
        &config,
        Options {
            status: Some(status),
            ..Options::default()
        },
    )
    .context("cannot start sending notifications")?;
    eprintln!(
        "coord: notifying through {} rules of {} (after {})",
        config.rules.len(),
        path.display(),
        humantime::format_duration(config.notify_after)
    );
    Ok(Some(dispatcher))
}

/// Starts the thread that turns logind's word into the host's, with a service of its own;
/// returns whether logind granted the delay inhibitor.
fn follow_logind(ctx: &Context) -> anyhow::Result<bool> {
    let service = ctx.service()?;
    let mut logind = Logind::connect().context("cannot reach logind on the system bus")?;
    let inhibits = logind.inhibits();
    std::thread::Builder::new()
        .name("logind".to_owned())
        .spawn(move || {
            while let Some(said) = logind.next_word() {
                if let Err(e) = logind.announce(&service, said) {
                    eprintln!("coord: cannot record that this host said {said:?}: {e}");
                }
            }
        })?;
    Ok(inhibits)
}

/// Starts the HTTP hook receiver on `addr` with a service of its own; returns where it listens.
fn receive_hooks(ctx: &Context, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let token = hook_receiver::load_or_create_token(&super::hook_token_path()?)
        .context("cannot read or create the hook token")?;
    let receiver = HookReceiver::bind(addr, &token).context("cannot listen")?;
    let addr = receiver.local_addr()?;
    receiver.spawn(ctx.service()?)?;
    Ok(addr)
}

/// `coord-sidecar` beside this binary, if it is there.
fn sidecar() -> Option<PathBuf> {
    let path = std::env::current_exe()
        .ok()?
        .with_file_name("coord-sidecar");
    path.is_file().then_some(path)
}

/// Runs `coord watch-report`: one report of the sidecar, written to the store. Prints
/// `watching`, or `gone` when the session no longer takes signals from this incarnation.
pub fn report(ctx: &Context, args: &WatchReportArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let source = match args.source.as_str() {
        "poll" => Source::Poll,
        _ => Source::Watch,
    };
    if let Some(status) = &args.exited {
        let status: ExitStatus =
            serde_json::from_str(status).map_err(|e| UsageError(format!("--exited: {e}")))?;
        service.watch_exit(&args.id, args.incarnation, status, source)?;
        outln!("gone");
    } else if service.watch_renew(&args.id, args.incarnation, source, args.log.as_deref())? {
        outln!("watching");
    } else {
        outln!("gone");
    }
    Ok(ExitCode::SUCCESS)
}
