//! `coord run -- CMD…`: start any agent under coord. In the foreground it spawns the command,
//! registers it, watches it, forwards SIGTERM and SIGHUP to it and exits with its code. With
//! `--tmux NAME` it starts the command in a detached tmux session instead (the pane's process
//! *is* the command, through `exec`), records the pane's output as the session's log, and
//! leaves a detached sidecar watching it.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context as _, bail};
use coord_core::{ExitStatus, Source};
use coord_service::RegisterRequest;
use coord_service::discover::tmux;
use coord_service::process::Held;
use coord_service::watch::WatchEnd;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use super::Context;
use crate::cli::RunArgs;
use crate::render::outln;

/// How often the foreground watcher renews the session.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// Runs `coord run`.
pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.tmux {
        return in_tmux(ctx, args, name);
    }
    let service = ctx.service()?;
    let (program, rest) = args.command.split_first().context("no command to run")?;
    let mut child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let held = Held::child(child.id())?;
    // Ctrl-C reaches the command from the terminal itself; coord stays to record its end.
    signal_hook::flag::register(SIGINT, Arc::new(AtomicBool::new(false)))?;
    forward_signals(child.id())?;
    let req = RegisterRequest {
        pid_start: Some(held.start()),
        ..request(args, child.id(), None)
    };
    let session = match service.register(req) {
        Ok(session) => session,
        Err(e) => {
            eprintln!("coord: the command runs unwatched: {e}");
            let status = child.wait()?;
            return Ok(ExitCode::from(status.code().map_or(1, |c| c as u8)));
        }
    };
    let end = service.watch(&session.id, session.incarnation, &held, RENEW_EVERY, None)?;
    let code = match end {
        WatchEnd::Exited(ExitStatus::Code(c)) => c,
        WatchEnd::Exited(ExitStatus::Signal(s)) => 128 + s,
        WatchEnd::Exited(ExitStatus::Gone) => 1,
        WatchEnd::SessionGone => child.wait()?.code().unwrap_or(1),
    };
    Ok(ExitCode::from(code as u8))
}

/// The registration of the command's process.
fn request(args: &RunArgs, pid: u32, log: Option<PathBuf>) -> RegisterRequest {
    RegisterRequest {
        id: args.id.clone(),
        pid: Some(pid),
        runtime: args.runtime,
        task: args.task.clone(),
        cwd: std::env::current_dir().ok(),
        labels: args.labels.iter().cloned().collect(),
        log_path: log,
        policy: (&args.policy).into(),
        source: Some(Source::Cli),
        ..RegisterRequest::default()
    }
}

/// Passes SIGTERM and SIGHUP sent to coord on to the command.
fn forward_signals(pid: u32) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP])?;
    let target = rustix::process::Pid::from_raw(pid as i32).context("invalid pid")?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if let Some(signal) = rustix::process::Signal::from_named_raw(signal) {
                let _ = rustix::process::kill_process(target, signal);
            }
        }
    });
    Ok(())
}

/// `coord run --tmux NAME`.
fn in_tmux(ctx: &Context, args: &RunArgs, name: &str) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let log = log_path(&args.id.clone().unwrap_or_else(|| name.to_owned()))?;
    // tmux sessions do not inherit the launcher's environment: pass what the command needs.
    let mut env = vec!["exec".to_owned(), "env".to_owned()];
    for key in ["PATH", "HOME", "COORD_URL", "COORD_NAMESPACE"] {
        if let Ok(value) = std::env::var(key) {
            env.push(shell_quote(&format!("{key}={value}")));
        }
    }
    if let Some(url) = ctx.url() {
        env.push(shell_quote(&format!("COORD_URL={url}")));
    }
    env.push(shell_quote(&format!("COORD_NAMESPACE={}", ctx.namespace())));
    env.extend(args.command.iter().map(|a| shell_quote(a)));
    tmux(&[
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        "200",
        "-y",
        "50",
        &env.join(" "),
    ])?;
    let pane_pid: u32 = display(name, "#{pane_pid}")?
        .parse()
        .context("tmux did not give the pane's pid")?;
    let pipe = format!("cat >> {}", shell_quote(&log.display().to_string()));
    tmux(&["pipe-pane", "-t", name, "-o", &pipe])?;
    let mut req = request(args, pane_pid, Some(log.clone()));
    // One value per call: tmux writes a control character in a format as `_` unless its
    // locale is UTF-8.
    let pane = tmux::Pane {
        socket: display(name, "#{socket_path}")?.into(),
        target: display(name, "#{session_name}:#{window_index}.#{pane_index}")?,
    };
    pane.label(&mut req.labels);
    req.id = Some(args.id.clone().unwrap_or_else(|| name.to_owned()));
    let session = service.register(req)?;
    let mut sidecar = Command::new(std::env::current_exe()?);
    sidecar
        .args(["watch", "--pid", &pane_pid.to_string(), "--id", &session.id])
        .arg("--log")
        .arg(&log)
        .env("COORD_NAMESPACE", ctx.namespace())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some(url) = ctx.url() {
        sidecar.env("COORD_URL", url);
    }
    sidecar.spawn().context("cannot start the sidecar")?;
    outln!("{}", session.id);
    eprintln!(
        "coord: running in tmux session `{name}` (tmux attach -t {name}); log {}",
        log.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What `format` says of the tmux session `name`.
fn display(name: &str, format: &str) -> anyhow::Result<String> {
    let out = tmux(&["display-message", "-p", "-t", name, format])?;
    Ok(out.trim_end_matches('\n').to_owned())
}

/// Runs tmux and returns its output.
fn tmux(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("tmux")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run tmux (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "tmux {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Where the pane output of session `id` is kept: `$XDG_STATE_HOME/coord/logs/<id>.log`.
fn log_path(id: &str) -> anyhow::Result<PathBuf> {
    let state = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".local/state")
        }
    };
    let dir = state.join("coord/logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(dir.join(format!("{file}.log")))
}

/// `s` quoted for a POSIX shell.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
