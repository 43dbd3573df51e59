//! `coord doctor`: checks the installation, one line per finding: the store (reachable,
//! writable, its clock), the agents' hooks (installed, calling this coord, trusted by Codex,
//! and firing: a session whose own status moves while no hook event arrives has hooks that do
//! not run), the watchers holding processes, and notifications (the config file, and what each
//! rule's channel did in the watcher). Exit 1 when something is broken.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coord_core::{Compact, Source, Timestamp, time::ago};
use coord_notify::Status;
use coord_setup::{Agent, Scope};

use super::Context;
use super::hooks::{agents_found, paths, this_coord};
use crate::render::outln;

/// A clock further off than this from the store's is worth a warning.
const CLOCK_SKEW: Duration = Duration::from_secs(2);

/// A status file that moved this much later than the last hook event means hooks do not fire.
const HOOKS_SILENT: Duration = Duration::from_secs(120);

/// What the checks found, counted as they print.
#[derive(Default)]
struct Findings {
    ok: usize,
    warnings: usize,
    failed: usize,
}

impl Findings {
    fn ok(&mut self, what: impl AsRef<str>) {
        self.ok += 1;
        outln!("ok    {}", what.as_ref());
    }

    fn warn(&mut self, what: impl AsRef<str>) {
        self.warnings += 1;
        outln!("warn  {}", what.as_ref());
    }

    fn fail(&mut self, what: impl AsRef<str>) {
        self.failed += 1;
        outln!("fail  {}", what.as_ref());
    }
}

/// Runs `coord doctor`.
pub fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut f = Findings::default();
    let url = ctx.store_url()?;
    match ctx.service() {
        Err(e) => f.fail(format!("store {url}: {e:#}")),
        Ok(service) => {
            match service.tidy() {
                Ok(()) => f.ok(format!("store {url}: reachable and writable")),
                Err(e) => f.fail(format!("store {url}: not writable: {e}")),
            }
            if let Ok(store_now) = service.now() {
                let here = Timestamp::from_millis(coord_core::time::millis(
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default(),
                ));
                let skew = here.since(store_now).max(store_now.since(here));
                if skew > CLOCK_SKEW {
                    f.warn(format!(
                        "this host's clock is {} off the store's (coord uses the store's)",
                        Compact(skew)
                    ));
                } else {
                    f.ok("clocks agree with the store's");
                }
            }
            match host_watchers(ctx.url(), ctx.namespace()).as_slice() {
                [] => f.warn(
                    "no per-host watcher on this host: deaths are seen when a command looks \
                     (start one: coord service install, or coord watch --all)",
                ),
                pids => f.ok(format!(
                    "the per-host watcher runs (pid {})",
                    pids.iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            if let Ok(fleet) = service.fleet() {
                let held = fleet
                    .entries
                    .iter()
                    .filter(|e| {
                        e.session.signals.contains_key(&Source::Watch)
                            || e.session.signals.contains_key(&Source::Poll)
                    })
                    .count();
                let polling = fleet
                    .entries
                    .iter()
                    .filter(|e| e.session.signals.contains_key(&Source::Poll))
                    .count();
                f.ok(format!(
                    "{} sessions, {held} held by a watcher",
                    fleet.entries.len()
                ));
                if polling > 0 {
                    f.warn(format!(
                        "{polling} watchers poll: this system has no pidfds"
                    ));
                }
                for e in &fleet.entries {
                    let s = &e.session;
                    let (Some(status), hook) =
                        (s.signals.get(&Source::Status), s.signals.get(&Source::Hook))
                    else {
                        continue;
                    };
                    if hook.is_none_or(|h| status.since(*h) > HOOKS_SILENT) {
                        f.warn(format!(
                            "{}: Claude Code reports it, but no hook event arrived{}: are the hooks installed and enabled?",
                            s.id,
                            hook.map_or(String::new(), |h| format!(" for {}", Compact(status.since(*h))))
                        ));
                    }
                }
            }
        }
    }
    hooks(&mut f);
    notifications(&mut f);
    outln!("{} ok, {} warnings, {} failed", f.ok, f.warnings, f.failed);
    Ok(if f.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The config file (it parses, and how many rules), and the counters the per-host watcher
/// keeps for each rule: a channel whose last attempt failed is broken.
fn notifications(f: &mut Findings) {
    let (path, config) = match super::notify::load_config() {
        Ok(loaded) => loaded,
        Err(e) => {
            f.fail(format!("config: {e:#}"));
            return;
        }
    };
    if path.exists() {
        f.ok(format!(
            "config {}: {} notification rules",
            path.display(),
            config.rules.len()
        ));
    } else {
        f.ok(format!(
            "no config file at {}: no notifications",
            path.display()
        ));
    }
    let Ok(Some(status)) = super::notify::status_path().and_then(|p| Ok(Status::read(&p)?)) else {
        return;
    };
    let stopped = if std::path::Path::new(&format!("/proc/{}", status.pid)).exists() {
        ""
    } else {
        " (from a watcher that stopped)"
    };
    let now = coord_notify::stats::wall_clock();
    for (i, c) in status.channels.iter().enumerate() {
        let last = c.last_error.as_ref().map_or(String::new(), |e| {
            format!("; last error {}: {}", ago(e.at, now), e.error)
        });
        let line = format!(
            "notify rule {} ({}): {} sent, {} failed, {} dropped{last}{stopped}",
            i + 1,
            c.channel,
            c.sent,
            c.failed,
            c.dropped
        );
        if c.failing() {
            f.fail(line);
        } else if c.dropped > 0 {
            f.warn(line);
        } else {
            f.ok(line);
        }
    }
}

/// The hooks of every agent this user has.
fn hooks(f: &mut Findings) {
    let (Ok(paths), Ok(opts)) = (paths(), this_coord(false)) else {
        f.fail("cannot find HOME or this coord binary");
        return;
    };
    let agents = agents_found(&paths);
    if agents.is_empty() {
        f.ok("no Claude Code or Codex for this user: no hooks to check");
    }
    for agent in agents {
        match coord_setup::status(agent, Scope::User, &paths, &opts) {
            Err(e) => f.fail(format!("{agent} hooks: {e}")),
            Ok(status) if status.is_complete() => {
                f.ok(format!("{agent} hooks installed and calling this coord"));
                http_receivers(f, &status);
                if agent == Agent::Codex && status.to_string().contains("not trusted") {
                    f.warn("Codex hooks are not trusted yet: review them in Codex, or coord hooks install --runtime codex --trust");
                }
            }
            Ok(_) => f.warn(format!(
                "{agent} hooks missing or calling another coord: coord hooks install --runtime {}",
                match agent {
                    Agent::ClaudeCode => "claude",
                    Agent::Codex => "codex",
                }
            )),
        }
    }
}

/// For HTTP hooks: whether a watcher takes them where they are posted. Without one, every event
/// is lost (and the agent shows each failed post).
fn http_receivers(f: &mut Findings, status: &coord_setup::Status) {
    let mut addrs: Vec<&str> = status
        .files
        .iter()
        .filter_map(|file| match file {
            coord_setup::FileStatus::Hooks { events, .. } => Some(events),
            coord_setup::FileStatus::CodexConfig { .. } => None,
        })
        .flatten()
        .flat_map(|e| &e.handlers)
        .filter_map(|h| h.url.as_deref()?.strip_prefix("http://")?.split('/').next())
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    if addrs.is_empty() {
        return;
    }
    let token = super::hook_token_path()
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    for addr in addrs {
        let answers = std::net::ToSocketAddrs::to_socket_addrs(addr)
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| coord_service::hook_receiver::answers(a, &token));
        if answers {
            f.ok(format!("the watcher receives HTTP hooks on {addr}"));
        } else {
            f.fail(format!(
                "hooks post to {addr}, where no watcher takes them: every event is lost. Start \
                 one (coord service install, or coord watch --all), or coord hooks install \
                 --via exec"
            ));
        }
    }
}

/// The processes of this host running `coord watch --all` on this store and fleet: a program
/// named `coord` whose arguments are `watch` and, after it, `--all`, with the same `COORD_URL`
/// and `COORD_NAMESPACE` in its environment (a watcher started with `--url` or `--namespace`
/// is not recognised, nor one of another user, whose environment cannot be read).
fn host_watchers(url: Option<&str>, namespace: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let nul_split = |bytes: &[u8]| -> Vec<String> {
        bytes
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args = nul_split(&cmdline);
            let is_coord = args.first().is_some_and(|program| {
                std::path::Path::new(program)
                    .file_name()
                    .is_some_and(|n| n == "coord")
            });
            let watches_all = args
                .iter()
                .position(|a| a == "watch")
                .is_some_and(|w| args[w + 1..].iter().any(|a| a == "--all"));
            if !(is_coord && watches_all) {
                return false;
            }
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let env = nul_split(&environ);
            let var = |name: &str| {
                env.iter()
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
                    .filter(|v| !v.is_empty())
            };
            var("COORD_URL").as_deref() == url
                && var("COORD_NAMESPACE").as_deref().unwrap_or("default") == namespace
        })
        .collect()
}
