//! `coord hooks install|uninstall|status`: edit an agent's settings so that its hooks call
//! `coord hook …` (or, for Claude Code with `--via http`, post to this host's watcher). The
//! editing itself (keeping the user's hooks, atomic writes, backups, Codex trust) is
//! `coord-setup`'s; this command finds the files, the agents and the form each takes, and
//! prints.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use coord_service::hook_receiver;
use coord_setup::{Agent, Delivery, Options, Paths, Scope};

use crate::cli::{HooksAction, HooksArgs, HooksRuntime, HooksScope, HooksVia};
use crate::render::{out, outln};

/// The first Claude Code that runs a hook's `args` without a shell.
const CLAUDE_EXEC_FORM: (u32, u32, u32) = (2, 1, 139);

/// How long `claude --version` may take.
const VERSION_WAIT: Duration = Duration::from_secs(5);

/// Runs `coord hooks`.
pub fn run(args: &HooksArgs) -> anyhow::Result<ExitCode> {
    let (target, trust) = match &args.action {
        HooksAction::Install { target, trust, .. } => (target, *trust),
        HooksAction::Uninstall { target } | HooksAction::Status { target } => (target, false),
    };
    let paths = paths()?;
    let mut opts = this_coord(trust)?;
    let scope = match target.scope {
        HooksScope::User => Scope::User,
        HooksScope::Project => Scope::Project,
    };
    let agents = agents(target.runtime, &paths)?;
    let mut docs = Vec::new();
    for agent in agents {
        let (text, doc) = match &args.action {
            HooksAction::Install { via, hook_addr, .. } => {
                opts.delivery = delivery(agent, *via, *hook_addr)?;
                let r = coord_setup::install(agent, scope, &paths, &opts)?;
                if matches!(opts.delivery, Delivery::Http { .. }) {
                    warn_if_others_read(r.files.iter().map(|f| f.path.as_path()));
                }
                (r.to_string(), serde_json::to_value(&r)?)
            }
            HooksAction::Uninstall { .. } => {
                let r = coord_setup::uninstall(agent, scope, &paths, &opts)?;
                (r.to_string(), serde_json::to_value(&r)?)
            }
            HooksAction::Status { .. } => {
                let s = coord_setup::status(agent, scope, &paths, &opts)?;
                (s.to_string(), serde_json::to_value(&s)?)
            }
        };
        if target.json {
            docs.push(doc);
        } else {
            out!("{text}");
            if !text.ends_with('\n') {
                outln!();
            }
        }
    }
    if target.json {
        outln!("{}", serde_json::to_string_pretty(&docs)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// The options that point hooks at this coord binary.
pub fn this_coord(trust: bool) -> anyhow::Result<Options> {
    let coord = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot find the coord binary")?;
    Ok(Options {
        coord,
        trust_codex_hooks: trust,
        delivery: Delivery::Shell,
    })
}

/// How `agent`'s hooks are to reach coord.
fn delivery(agent: Agent, via: HooksVia, hook_addr: SocketAddr) -> anyhow::Result<Delivery> {
    Ok(match (agent, via) {
        (Agent::Codex, HooksVia::Auto) | (_, HooksVia::Shell) => Delivery::Shell,
        (_, HooksVia::Exec) => Delivery::Exec,
        (Agent::ClaudeCode, HooksVia::Auto) => match claude_version() {
            Some(v) if v >= CLAUDE_EXEC_FORM => Delivery::Exec,
            _ => Delivery::Shell,
        },
        (_, HooksVia::Http) => {
            let token = hook_receiver::load_or_create_token(&super::hook_token_path()?)
                .context("cannot read or create the hook token")?;
            // Hooks pointed at a receiver that is not there would lose every event.
            if !hook_receiver::answers(hook_addr, &token) {
                bail!(
                    "no coord watcher receives hooks on {hook_addr}: start one (coord service \
                     install, or coord watch --all), or install without --via http"
                );
            }
            Delivery::Http {
                base: format!("http://{hook_addr}"),
                token,
            }
        }
    })
}

/// Says so when a file that now holds the hook token can be read by other users.
fn warn_if_others_read<'a>(files: impl Iterator<Item = &'a Path>) {
    use std::os::unix::fs::PermissionsExt;
    for file in files {
        if file
            .metadata()
            .is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
        {
            eprintln!(
                "coord: {} holds the hook token and other users can read it: chmod 600 {0}",
                file.display()
            );
        }
    }
}

/// The version `claude --version` prints (`2.1.328 (Claude Code)`), if it runs.
fn claude_version() -> Option<(u32, u32, u32)> {
    let mut child = Command::new("claude")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + VERSION_WAIT;
    while child.try_wait().ok()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().ok()?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

/// The first `major.minor.patch` of `text`.
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(a)), Some(Ok(b)), Some(Ok(c))) => Some((a, b, c)),
        _ => None,
    }
}

/// Where the agents keep their settings, from the environment.
pub fn paths() -> anyhow::Result<Paths> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    Ok(Paths {
        home: var("HOME").context("HOME is not set")?,
        claude_config_dir: var("CLAUDE_CONFIG_DIR"),
        codex_home: var("CODEX_HOME"),
        project_dir: std::env::current_dir().context("cannot read the current directory")?,
    })
}

/// The agents to act on: the one named, or with `all` every agent this user has.
fn agents(runtime: HooksRuntime, paths: &Paths) -> anyhow::Result<Vec<Agent>> {
    Ok(match runtime {
        HooksRuntime::Claude => vec![Agent::ClaudeCode],
        HooksRuntime::Codex => vec![Agent::Codex],
        HooksRuntime::All => {
            let found = agents_found(paths);
            if found.is_empty() {
                bail!("found neither Claude Code nor Codex for this user; name one with --runtime");
            }
            found
        }
    })
}

/// Every agent this user has: its settings directory exists, or its command is on `PATH`.
pub fn agents_found(paths: &Paths) -> Vec<Agent> {
    let claude_dir = paths
        .claude_config_dir
        .clone()
        .unwrap_or_else(|| paths.home.join(".claude"));
    let codex_dir = paths
        .codex_home
        .clone()
        .unwrap_or_else(|| paths.home.join(".codex"));
    let mut found = Vec::new();
    if claude_dir.is_dir() || on_path("claude") {
        found.push(Agent::ClaudeCode);
    }
    if codex_dir.is_dir() || on_path("codex") {
        found.push(Agent::Codex);
    }
    found
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_file(&dir.join(program))))
}

fn is_file(p: &Path) -> bool {
    p.metadata().is_ok_and(|m| m.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_claude_prints() {
        assert_eq!(parse_version("2.1.328 (Claude Code)\n"), Some((2, 1, 328)));
        assert_eq!(parse_version("2.1.139"), Some((2, 1, 139)));
        assert_eq!(parse_version("Claude Code 2.1.3"), None);
        assert_eq!(parse_version(""), None);
        assert!((2, 1, 328) >= CLAUDE_EXEC_FORM && (2, 1, 138) < CLAUDE_EXEC_FORM);
        assert!((3, 0, 0) >= CLAUDE_EXEC_FORM);
    }
}
