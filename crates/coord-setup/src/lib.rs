//! Installs, removes and inspects the hooks through which coding agents report to coord.
//!
//! `coord hooks install|uninstall|status` calls [`install`], [`uninstall`] and [`status`]. Each
//! edits (or reads) one agent's settings so that its hooks run `<coord> hook <Event>`:
//!
//! - Claude Code: one matcher group of coord's per event in `settings.json` (`claude.rs`).
//! - Codex: the same in `hooks.json`, `notify` in `config.toml` (chained in front of the user's
//!   own), and, only when asked, the trust entries Codex needs before it runs a hook (`codex.rs`,
//!   `trust.rs`).
//!
//! What holds for every file: the user's hooks, keys, order, comments and formatting are kept;
//! coord's handlers are recognised by their command (`command.rs`) and removed exactly; a second
//! install writes nothing; a file is replaced atomically after a backup (`atomic.rs`); a file
//! that does not parse, or whose shape is not the agent's, is refused and left as it was.
//!
//! [`service`] writes the user unit that runs the per-host watcher (`coord service`).
//!
//! This crate does not read the environment, print, or know the command line: the caller
//! resolves [`Paths`] and renders [`Report`] and [`Status`] (`Display` for people, `Serialize`
//! for `--json`).

mod atomic;
mod claude;
mod codex;
mod codex_trust;
mod command;
mod error;
mod hooks_json;
mod json_file;
mod notify;
mod report;
pub mod service;
mod status;
mod toml_file;
mod trust;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use error::SetupError;
pub use report::{
    Change, FileOutcome, FileReport, Operation, Report, TRUST_COMMAND, TrustReport, TrustedHandler,
};
pub use status::{EventStatus, FileStatus, HandlerStatus, NotifyStatus, Status, TrustStatus};

/// The coding agent whose hooks are edited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Agent {
    /// Anthropic's Claude Code.
    #[serde(rename = "claude")]
    ClaudeCode,
    /// The Codex CLI.
    #[serde(rename = "codex")]
    Codex,
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClaudeCode => "Claude Code",
            Self::Codex => "Codex",
        })
    }
}

/// Whose settings: the user's (every project) or one project's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The user's own settings, for every project.
    User,
    /// The settings of the project in [`Paths::project_dir`].
    Project,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::User => "user",
            Self::Project => "project",
        })
    }
}

/// Where the agents' files live, resolved by the caller from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The user's home directory (`HOME`).
    pub home: PathBuf,
    /// `CLAUDE_CONFIG_DIR`, when set and not empty (else `<home>/.claude`).
    pub claude_config_dir: Option<PathBuf>,
    /// `CODEX_HOME`, when set and not empty (else `<home>/.codex`). Resolved like Codex does
    /// (symbolic links followed), since Codex's trust keys spell the resolved path.
    pub codex_home: Option<PathBuf>,
    /// The project's root, for project scope (usually the current directory).
    pub project_dir: PathBuf,
}

/// What to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The absolute path of the coord binary the hooks must call.
    pub coord: PathBuf,
    /// Codex, user scope: write trust entries for coord's own handlers (`--trust`). Without it,
    /// trust is left to Codex's review screen.
    pub trust_codex_hooks: bool,
}

/// Installs coord's hooks for `agent` in `scope`. Idempotent: a second call writes nothing and
/// reports every file as already installed.
pub fn install(
    agent: Agent,
    scope: Scope,
    paths: &Paths,
    opts: &Options,
) -> Result<Report, SetupError> {
    let coord = coord_path(&opts.coord)?;
    let (files, trust) = match agent {
        Agent::ClaudeCode => (claude::install(scope, paths, coord)?, None),
        Agent::Codex => {
            let (files, trust) = codex::install(scope, paths, opts, coord)?;
            (files, Some(trust))
        }
    };
    Ok(Report {
        operation: Operation::Install,
        agent,
        scope,
        coord: opts.coord.clone(),
        files,
        trust,
    })
}

/// Removes every coord hook (any coord binary's) for `agent` in `scope`, with coord's `notify`
/// and trust entries for Codex, and nothing else.
pub fn uninstall(
    agent: Agent,
    scope: Scope,
    paths: &Paths,
    opts: &Options,
) -> Result<Report, SetupError> {
    let coord = coord_path(&opts.coord)?;
    let files = match agent {
        Agent::ClaudeCode => claude::uninstall(scope, paths)?,
        Agent::Codex => codex::uninstall(scope, paths, coord)?,
    };
    Ok(Report {
        operation: Operation::Uninstall,
        agent,
        scope,
        coord: opts.coord.clone(),
        files,
        trust: None,
    })
}

/// How coord's hooks for `agent` in `scope` stand. Reads only.
pub fn status(
    agent: Agent,
    scope: Scope,
    paths: &Paths,
    opts: &Options,
) -> Result<Status, SetupError> {
    let coord = coord_path(&opts.coord)?;
    let files = match agent {
        Agent::ClaudeCode => claude::status(scope, paths, coord)?,
        Agent::Codex => codex::status(scope, paths, coord)?,
    };
    Ok(Status {
        agent,
        scope,
        coord: opts.coord.clone(),
        files,
    })
}

/// The coord path as text, refused unless absolute and UTF-8.
fn coord_path(coord: &Path) -> Result<&str, SetupError> {
    if !coord.is_absolute() {
        return Err(SetupError::CoordPathNotAbsolute(coord.to_owned()));
    }
    coord
        .to_str()
        .ok_or_else(|| SetupError::CoordPathNotUtf8(coord.to_owned()))
}
