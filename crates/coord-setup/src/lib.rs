//! Installs, removes and inspects the hooks through which coding agents report to coord.
//!
//! `coord hooks install|uninstall|status` calls [`install`], [`uninstall`] and [`status()`]. Each
//! edits (or reads) one agent's settings so that its hooks report each event to coord:
//!
//! - Claude Code: one matcher group of coord's per event in `settings.json` (`claude.rs`), whose
//!   handler reaches coord in the form [`Options::delivery`] asks for (`handler.rs`):
//!   - shell: `{"type": "command", "command": "<coord> hook <Event>", "timeout": 5}`, run
//!     through `sh -c`;
//!   - exec: `{"type": "command", "command": "<coord>", "args": ["hook", "<Event>"],
//!     "timeout": 5}`, run without a shell (Claude Code 2.1.139 and later);
//!   - http: `{"type": "http", "url": "<base>/coord/hook/<Event>", "timeout": 5, "headers":
//!     {"X-Coord-Hook-Token": "<token>"}}`, posted to coord's per-host watcher (user scope only:
//!     a project's settings are usually committed, and the token must not be shared).
//! - Codex: the shell form only, in `hooks.json`, `notify` in `config.toml` (chained in front of
//!   the user's own), and, only when asked, the trust entries Codex needs before it runs a hook
//!   (`codex.rs`, `trust.rs`).
//!
//! What holds for every file: the user's hooks, keys, order, comments and formatting are kept;
//! coord's handlers are recognised by what they run, in any of the three forms (`handler.rs`,
//! `command.rs`), and removed exactly; a second install with the same delivery writes nothing,
//! one with another delivery converts coord's handlers in place; a file is replaced atomically
//! after a backup (`atomic.rs`); a file that does not parse, or whose shape is not the agent's,
//! is refused and left as it was. Tokens are never shown: reports and status name the header
//! (`X-Coord-Hook-Token: ***`), not its value.
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
mod handler;
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
pub use handler::HandlerForm;
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
    /// How Claude Code's hooks reach coord (install only: uninstall and status find coord's
    /// handlers in every form). Codex takes [`Delivery::Shell`] only.
    pub delivery: Delivery,
}

/// How an agent's hooks reach coord. Its `Debug` shows no token.
#[derive(Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A command run through the shell: `"command": "<coord> hook <Event>"` (every version).
    Shell,
    /// The exec form, run without a shell: `"command": "<coord>", "args": ["hook", "<Event>"]`
    /// (Claude Code 2.1.139 and later).
    Exec,
    /// An HTTP hook: `{"type": "http", "url": "<base>/coord/hook/<Event>", "timeout": 5,
    /// "headers": {"X-Coord-Hook-Token": "<token>"}}`, posted to coord's per-host watcher.
    /// Claude Code, user scope only.
    Http {
        /// The watcher's address: `http://`, a host and a port, no path and no trailing slash
        /// (`http://127.0.0.1:7078`).
        base: String,
        /// The token the watcher expects in `X-Coord-Hook-Token`: visible ASCII, no spaces.
        token: String,
    },
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shell => f.write_str("Shell"),
            Self::Exec => f.write_str("Exec"),
            Self::Http { base, .. } => f
                .debug_struct("Http")
                .field("base", base)
                .field("token", &"***")
                .finish(),
        }
    }
}

impl Delivery {
    /// The form of the handlers it writes.
    #[must_use]
    pub fn form(&self) -> HandlerForm {
        match self {
            Self::Shell => HandlerForm::Shell,
            Self::Exec => HandlerForm::Exec,
            Self::Http { .. } => HandlerForm::Http,
        }
    }

    /// Refuses a base URL or a token that cannot be written as an HTTP hook. Never names the
    /// token.
    fn check(&self) -> Result<(), SetupError> {
        let Self::Http { base, token } = self else {
            return Ok(());
        };
        let host_port = base.strip_prefix("http://").unwrap_or_default();
        // A host (name, IPv4 or [IPv6]) and a port: a path would not be `/coord/hook/<Event>`.
        let base_ok = !host_port.is_empty()
            && host_port
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c));
        if !base_ok {
            return Err(SetupError::HttpBase(base.clone()));
        }
        if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(SetupError::HttpToken);
        }
        Ok(())
    }
}

/// Installs coord's hooks for `agent` in `scope`, in the form `opts.delivery` asks for.
/// Idempotent: a second call with the same delivery writes nothing and reports every file as
/// already installed; a call with another delivery converts coord's handlers in place.
///
/// Refused with nothing written: a delivery other than [`Delivery::Shell`] for Codex,
/// [`Delivery::Http`] in project scope, an HTTP base or token that cannot be written.
pub fn install(
    agent: Agent,
    scope: Scope,
    paths: &Paths,
    opts: &Options,
) -> Result<Report, SetupError> {
    let coord = coord_path(&opts.coord)?;
    match (agent, scope, &opts.delivery) {
        (Agent::Codex, _, Delivery::Exec | Delivery::Http { .. }) => {
            return Err(SetupError::CodexShellOnly(opts.delivery.form()));
        }
        (Agent::ClaudeCode, Scope::Project, Delivery::Http { .. }) => {
            return Err(SetupError::HttpInProject(claude::settings_path(
                scope, paths,
            )));
        }
        _ => opts.delivery.check()?,
    }
    let (files, trust) = match agent {
        Agent::ClaudeCode => (claude::install(scope, paths, coord, &opts.delivery)?, None),
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

/// Removes every coord hook (any coord binary's, in any form) for `agent` in `scope`, with
/// coord's `notify` and trust entries for Codex, and nothing else. `opts.delivery` is not used.
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

/// How coord's hooks for `agent` in `scope` stand, in whatever form they are. Reads only;
/// `opts.delivery` is not used.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn http(base: &str, token: &str) -> Delivery {
        Delivery::Http {
            base: base.into(),
            token: token.into(),
        }
    }

    #[test]
    fn an_http_base_is_a_host_and_port_after_http() {
        for base in [
            "http://127.0.0.1:7078",
            "http://localhost:7078",
            "http://[::1]:7078",
            "http://coord-host.lan",
        ] {
            assert!(http(base, "t").check().is_ok(), "{base}");
        }
        for base in [
            "",
            "http://",
            "https://127.0.0.1:7078",
            "127.0.0.1:7078",
            "http://127.0.0.1:7078/",
            "http://127.0.0.1:7078/coord",
            "http://127.0.0.1:7078?x",
            "http://user@host:1",
            "http://host :1",
            "HTTP://host:1",
        ] {
            let err = http(base, "t").check().unwrap_err();
            assert!(matches!(err, SetupError::HttpBase(_)), "{base}: {err}");
        }
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused_without_being_shown() {
        for token in ["", "two words", "line\nbreak", "caf\u{e9}"] {
            let err = http("http://127.0.0.1:7078", token).check().unwrap_err();
            assert!(matches!(err, SetupError::HttpToken), "{token:?}");
        }
        let err = http("http://127.0.0.1:7078", "two words")
            .check()
            .unwrap_err();
        assert!(!err.to_string().contains("two words"));
        assert!(Delivery::Shell.check().is_ok());
        assert_eq!(
            format!("{:?}", http("http://h:1", "s3cret")),
            r#"Http { base: "http://h:1", token: "***" }"#
        );
        assert!(Delivery::Exec.check().is_ok());
    }
}
