//! How coord's hooks stand in an agent's files, for a person (`Display`, one line per fact) and
//! for a script (`Serialize`, the `--json` shape). Nothing here is written; `coord hooks status`
//! and `coord doctor` read it.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::report::{TRUST_COMMAND, argv_text};
use crate::{Agent, HandlerForm, Scope};

/// How coord's hooks stand in one agent's files for one scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The agent.
    pub agent: Agent,
    /// Whose files.
    pub scope: Scope,
    /// The coord binary the hooks should call (this one).
    pub coord: PathBuf,
    /// One entry per file.
    pub files: Vec<FileStatus>,
}

impl Status {
    /// Whether every hook (and Codex's `notify`, in user scope) is installed and calls this coord.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.files.iter().all(|file| match file {
            FileStatus::Hooks { events, .. } => events.iter().all(|event| {
                !event.handlers.is_empty() && event.handlers.iter().all(|h| h.calls_this_coord)
            }),
            FileStatus::CodexConfig { notify, .. } => matches!(
                notify,
                NotifyStatus::Installed {
                    calls_this_coord: true,
                    ..
                }
            ),
        })
    }
}

/// How coord stands in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileStatus {
    /// A hooks file (Claude Code's `settings.json`, Codex's `hooks.json`).
    Hooks {
        /// The file.
        path: PathBuf,
        /// Whether it exists.
        exists: bool,
        /// One entry per event coord hooks, in coord's order.
        events: Vec<EventStatus>,
    },
    /// Codex's `config.toml` (user scope): `notify`, and trust entries left behind.
    CodexConfig {
        /// The file.
        path: PathBuf,
        /// Whether it exists.
        exists: bool,
        /// coord's `notify`.
        notify: NotifyStatus,
        /// Trust entries of coord's handlers at positions no coord handler holds any more (the
        /// user's array changed): harmless, and rewritten by the next install with trust.
        stale_trust: Vec<String>,
    },
}

/// coord's handlers for one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventStatus {
    /// The event.
    pub event: String,
    /// coord's handlers of this event (empty: missing).
    pub handlers: Vec<HandlerStatus>,
}

/// One coord handler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HandlerStatus {
    /// How it reaches coord.
    pub form: HandlerForm,
    /// What it runs, for a person: the shell command, the exec argv joined
    /// (`<coord> hook <Event>`), or `POST <url>`. Never a token.
    pub command: String,
    /// The coord program it runs (shell and exec forms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<PathBuf>,
    /// The URL it posts to (http form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Whether it reaches this coord: its program is this coord (shell, exec), or it posts to a
    /// watcher, which is this host's (http).
    pub calls_this_coord: bool,
    /// Index of its matcher group in the event's array.
    pub group: usize,
    /// Index of the handler in the group.
    pub handler: usize,
    /// Codex only: whether Codex trusts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustStatus>,
}

/// Whether Codex runs a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustStatus {
    /// The stored hash equals the handler's current hash.
    Trusted,
    /// No trust entry for its position.
    Untrusted,
    /// An entry exists at its position with another hash: the handler was edited, or the
    /// user's groups moved it to another position.
    Modified,
}

/// coord's `notify` in Codex's `config.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NotifyStatus {
    /// No `notify` at all.
    Missing,
    /// coord's `notify`.
    Installed {
        /// The coord program it runs.
        program: PathBuf,
        /// Whether that is this coord.
        calls_this_coord: bool,
        /// The user's own notify program and arguments, which coord runs after its own work.
        chained: Vec<String>,
    },
    /// A `notify` that is not coord's (install chains it).
    Other {
        /// Its value.
        argv: Vec<String>,
    },
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} hooks, {} scope, this coord: {}",
            self.agent,
            self.scope,
            self.coord.display()
        )?;
        for file in &self.files {
            write!(f, "{file}")?;
        }
        if self.untrusted() {
            match self.scope {
                Scope::User => writeln!(
                    f,
                    "to trust coord's handlers: {TRUST_COMMAND} (or review them in Codex)"
                )?,
                Scope::Project => {
                    writeln!(f, "to trust coord's handlers: review them in Codex")?;
                }
            }
        }
        Ok(())
    }
}

impl Status {
    /// Whether some coord handler is installed but not trusted by Codex.
    fn untrusted(&self) -> bool {
        self.files.iter().any(|file| match file {
            FileStatus::Hooks { events, .. } => events.iter().flat_map(|e| &e.handlers).any(|h| {
                matches!(
                    h.trust,
                    Some(TrustStatus::Untrusted | TrustStatus::Modified)
                )
            }),
            FileStatus::CodexConfig { .. } => false,
        })
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hooks {
                path,
                exists,
                events,
            } => {
                if !exists {
                    return writeln!(f, "{}: does not exist, no hook installed", path.display());
                }
                writeln!(f, "{}:", path.display())?;
                for event in events {
                    write!(f, "{event}")?;
                }
                Ok(())
            }
            Self::CodexConfig {
                path,
                exists,
                notify,
                stale_trust,
            } => {
                if *exists {
                    writeln!(f, "{}:", path.display())?;
                } else {
                    writeln!(f, "{}: does not exist", path.display())?;
                }
                writeln!(f, "  {notify}")?;
                for key in stale_trust {
                    writeln!(
                        f,
                        "  stale trust entry {key}: no coord handler there any more"
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.handlers.is_empty() {
            return writeln!(f, "  {}: missing", self.event);
        }
        for handler in &self.handlers {
            // The shell form is every version's and the default: only the others are named.
            match handler.form {
                HandlerForm::Shell => write!(f, "  {}: installed, ", self.event)?,
                form => write!(f, "  {}: installed as {form}, ", self.event)?,
            }
            if let Some(url) = &handler.url {
                write!(f, "posts to {url} (this host's watcher)")?;
            } else if handler.calls_this_coord {
                write!(f, "calls this coord")?;
            } else if let Some(program) = &handler.program {
                write!(f, "calls another coord: {}", program.display())?;
            }
            match handler.trust {
                None => {}
                Some(TrustStatus::Trusted) => write!(f, ", trusted")?,
                Some(TrustStatus::Untrusted) => write!(f, ", not trusted")?,
                Some(TrustStatus::Modified) => write!(
                    f,
                    ", not trusted: its trust entry holds another hash (edited or moved)"
                )?,
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for NotifyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "notify: missing"),
            Self::Installed {
                program,
                calls_this_coord,
                chained,
            } => {
                if *calls_this_coord {
                    write!(f, "notify: installed, calls this coord")?;
                } else {
                    write!(
                        f,
                        "notify: installed, calls another coord: {}",
                        program.display()
                    )?;
                }
                if !chained.is_empty() {
                    write!(f, ", then your {}", argv_text(chained))?;
                }
                Ok(())
            }
            Self::Other { argv } => write!(
                f,
                "notify: not coord's: {} (install puts coord in front and keeps it)",
                argv_text(argv)
            ),
        }
    }
}
