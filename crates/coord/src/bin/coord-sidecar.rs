//! `coord-sidecar`: the small process `coord watch` becomes once the session is registered.
//!
//! A sidecar lives as long as the agent it holds, one per agent, so it must cost next to
//! nothing: it holds the process with a pidfd and sleeps in `poll`, and leaves every write to
//! the store to a short-lived `coord watch-report` it starts (each interval, and the moment the
//! process ends). Linking neither SQLite nor a Redis client keeps it near 1 MiB resident.
//!
//! Usage (by `coord watch` only):
//! `coord-sidecar COORD PID START INTERVAL_MS ID INCARNATION [LOG]`

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use coord_service::process::{Held, HoldMode};

/// How often the end of the process is reported before the sidecar gives up.
const EXIT_REPORT_TRIES: u32 = 20;

struct Args {
    coord: String,
    pid: u32,
    start: u64,
    interval: Duration,
    id: String,
    incarnation: String,
    log: Option<String>,
}

fn parse(args: &[String]) -> Option<Args> {
    Some(Args {
        coord: args.get(1)?.clone(),
        pid: args.get(2)?.parse().ok()?,
        start: args.get(3)?.parse().ok()?,
        interval: Duration::from_millis(args.get(4)?.parse().ok()?),
        id: args.get(5)?.clone(),
        incarnation: args.get(6)?.clone(),
        log: args.get(7).cloned(),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(args) = parse(&args) else {
        eprintln!("usage: coord-sidecar COORD PID START INTERVAL_MS ID INCARNATION [LOG]");
        return ExitCode::from(2);
    };
    let Ok(held) = Held::open(args.pid, Some(args.start)) else {
        return ExitCode::from(1);
    };
    let source = match held.mode() {
        HoldMode::Pidfd => "watch",
        HoldMode::Polling => "poll",
    };
    loop {
        if report(&args, source, &[]) == Some(Report::Gone) {
            return ExitCode::SUCCESS;
        }
        if let Some(status) = held.wait(args.interval) {
            let status = serde_json::to_string(&status).unwrap_or_else(|_| "\"gone\"".into());
            for _ in 0..EXIT_REPORT_TRIES {
                if report(&args, source, &["--exited", &status]).is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            return ExitCode::SUCCESS;
        }
    }
}

#[derive(PartialEq, Eq)]
enum Report {
    Watching,
    Gone,
}

/// Runs `coord watch-report`; `None` when it could not report (the store is away).
fn report(args: &Args, source: &str, extra: &[&str]) -> Option<Report> {
    let mut cmd = Command::new(&args.coord);
    cmd.args([
        "watch-report",
        "--id",
        &args.id,
        "--incarnation",
        &args.incarnation,
    ])
    .args(["--source", source])
    .args(extra)
    .stdin(Stdio::null())
    .stderr(Stdio::null());
    if let Some(log) = &args.log {
        cmd.args(["--log", log]);
    }
    let out = cmd.output().ok()?;
    match (out.status.success(), out.stdout.as_slice()) {
        (true, b"gone\n") => Some(Report::Gone),
        (true, _) => Some(Report::Watching),
        (false, _) => None,
    }
}
