//! `coord hooks install|uninstall|status`: edit an agent's settings so that its hooks call
//! `coord hook …`. The editing itself (keeping the user's hooks, atomic writes, backups, Codex
//! trust) is `coord-setup`'s; this command finds the files and the agents, and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use coord_setup::{Agent, Delivery, Options, Paths, Scope};

use crate::cli::{HooksAction, HooksArgs, HooksRuntime, HooksScope};

/// Runs `coord hooks`.
pub fn run(args: &HooksArgs) -> anyhow::Result<ExitCode> {
    let (target, trust) = match &args.action {
        HooksAction::Install { target, trust } => (target, *trust),
        HooksAction::Uninstall { target } | HooksAction::Status { target } => (target, false),
    };
    let paths = paths()?;
    let opts = this_coord(trust)?;
    let scope = match target.scope {
        HooksScope::User => Scope::User,
        HooksScope::Project => Scope::Project,
    };
    let agents = agents(target.runtime, &paths)?;
    let mut docs = Vec::new();
    for agent in agents {
        let (text, doc) = match &args.action {
            HooksAction::Install { .. } => {
                let r = coord_setup::install(agent, scope, &paths, &opts)?;
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
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
    }
    if target.json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
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
