//! What an install or an uninstall did, for a person (`Display`, one line per fact) and for a
//! script (`Serialize`, the `--json` shape).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic::Written;
use crate::error::SetupError;
use crate::{Agent, HandlerForm, Scope};

/// The command that trusts coord's Codex hooks, offered whenever trust is left to Codex.
pub const TRUST_COMMAND: &str = "coord hooks install --runtime codex --trust";

/// Which operation a [`Report`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `coord hooks install`.
    Install,
    /// `coord hooks uninstall`.
    Uninstall,
}

/// What an install or an uninstall did, file by file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The operation.
    pub operation: Operation,
    /// The agent whose files were edited.
    pub agent: Agent,
    /// Whose files: the user's or the project's.
    pub scope: Scope,
    /// The coord binary the hooks call.
    pub coord: PathBuf,
    /// One entry per file looked at, in the order they were handled.
    pub files: Vec<FileReport>,
    /// For a Codex install: how coord's handlers stand with Codex's trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustReport>,
}

impl Report {
    /// Whether any file was written.
    #[must_use]
    pub fn changed(&self) -> bool {
        self.files.iter().any(|file| {
            matches!(
                file.outcome,
                FileOutcome::Created | FileOutcome::Written { .. }
            )
        })
    }
}

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Whether and how it was written.
    #[serde(flatten)]
    pub outcome: FileOutcome,
    /// Each change made to it (empty when it was left alone).
    pub changes: Vec<Change>,
}

/// Whether and how a file was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FileOutcome {
    /// The file did not exist and was created.
    Created,
    /// The file was replaced; its previous content is in `backup`.
    Written {
        /// The copy of the previous content.
        backup: PathBuf,
    },
    /// Install found everything in place and did not touch the file.
    AlreadyInstalled,
    /// Uninstall found nothing of coord's and did not touch the file.
    NothingToRemove,
}

/// One change made to a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// coord's matcher group for an event was appended.
    HookAdded {
        /// The event.
        event: String,
        /// What the handler runs: the shell command, the exec argv joined, or `POST <url>`.
        command: String,
        /// Its form.
        form: HandlerForm,
    },
    /// A coord handler now reaches this coord in the wanted form, in place: it called another
    /// coord binary, had another form, or (http) another base URL or token.
    HookRetargeted {
        /// The event.
        event: String,
        /// What it ran before, as in [`Change::HookAdded::command`].
        from: String,
        /// Its form before.
        from_form: HandlerForm,
        /// What it runs now.
        to: String,
        /// Its form now.
        form: HandlerForm,
    },
    /// A coord handler was removed.
    HookRemoved {
        /// The event it was listed under.
        event: String,
        /// What it ran, as in [`Change::HookAdded::command`].
        command: String,
        /// Its form.
        form: HandlerForm,
    },
    /// `notify` was set to coord's (there was none).
    NotifySet {
        /// The new value.
        argv: Vec<String>,
    },
    /// coord was put in front of the user's own `notify`, which coord runs after its own work.
    NotifyChained {
        /// The user's program and arguments, as they were.
        theirs: Vec<String>,
    },
    /// coord's `notify` called another coord binary and now calls this one.
    NotifyRetargeted {
        /// The program before.
        from: String,
        /// The program now.
        to: String,
    },
    /// coord's `notify` was removed (there was none before it).
    NotifyRemoved,
    /// The user's own `notify` was given back, as it was before coord chained it.
    NotifyRestored {
        /// The restored value.
        argv: Vec<String>,
    },
    /// A Codex trust entry was written for a coord handler.
    TrustWritten {
        /// The handler's event.
        event: String,
        /// The entry's key under `hooks.state`.
        key: String,
    },
    /// A Codex trust entry of a coord handler was removed.
    TrustRemoved {
        /// The entry's key under `hooks.state`.
        key: String,
    },
}

/// How coord's Codex handlers stand with Codex's trust after an install.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "trust", rename_all = "snake_case")]
pub enum TrustReport {
    /// coord's handlers are trusted: Codex runs them.
    Trusted {
        /// Each trusted handler.
        handlers: Vec<TrustedHandler>,
        /// Events whose coord handler was edited by hand, so coord did not vouch for it.
        not_trusted: Vec<String>,
    },
    /// Trust is left to Codex's "Hooks need review" screen: until then `codex exec` skips the
    /// hooks silently.
    LeftToReview {
        /// The command that trusts them instead, when coord can (user scope only).
        command: Option<String>,
    },
}

/// A handler whose trust entry is in place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustedHandler {
    /// The event.
    pub event: String,
    /// The entry's key under `hooks.state`.
    pub key: String,
    /// Whether this install wrote the entry (`false`: it was already there).
    pub written_now: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.operation {
            Operation::Install => "install",
            Operation::Uninstall => "uninstall",
        };
        writeln!(
            f,
            "{} hooks, {} scope ({verb}), calling {}",
            self.agent,
            self.scope,
            self.coord.display()
        )?;
        for file in &self.files {
            write!(f, "{file}")?;
        }
        if let Some(trust) = &self.trust {
            write!(f, "{trust}")?;
        }
        Ok(())
    }
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.outcome {
            FileOutcome::Created => writeln!(f, "{path}: created")?,
            FileOutcome::Written { backup } => {
                writeln!(f, "{path}: written, backup at {}", backup.display())?;
            }
            FileOutcome::AlreadyInstalled => writeln!(f, "{path}: already installed, unchanged")?,
            FileOutcome::NothingToRemove => writeln!(f, "{path}: nothing to remove, unchanged")?,
        }
        for change in &self.changes {
            writeln!(f, "  {change}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HookAdded {
                event,
                command,
                form,
            } => write!(f, "added {event}: {command}{}", token_note(*form)),
            Self::HookRetargeted {
                event,
                from,
                to,
                form,
                ..
            } => {
                write!(f, "{event}: now {to}{}", token_note(*form))?;
                if from == to {
                    write!(f, " (a new token)")
                } else {
                    write!(f, " (was {from})")
                }
            }
            Self::HookRemoved { event, command, .. } => write!(f, "removed {event}: {command}"),
            Self::NotifySet { argv } => write!(f, "set notify = {}", argv_text(argv)),
            Self::NotifyChained { theirs } => write!(
                f,
                "chained notify: coord passes each turn on to your {}",
                argv_text(theirs)
            ),
            Self::NotifyRetargeted { from, to } => {
                write!(f, "pointed notify at this coord: {from} -> {to}")
            }
            Self::NotifyRemoved => write!(f, "removed notify"),
            Self::NotifyRestored { argv } => {
                write!(f, "restored your notify = {}", argv_text(argv))
            }
            Self::TrustWritten { event, key } => write!(f, "trusted {event}: {key}"),
            Self::TrustRemoved { key } => write!(f, "removed trust entry {key}"),
        }
    }
}

impl fmt::Display for TrustReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Trusted {
                handlers,
                not_trusted,
            } => {
                let now = handlers.iter().filter(|h| h.written_now).count();
                writeln!(
                    f,
                    "trust: coord's {} Codex handlers are trusted ({now} written now)",
                    handlers.len()
                )?;
                for event in not_trusted {
                    writeln!(
                        f,
                        "trust: {event} not trusted: its coord handler was edited by hand; review it in Codex"
                    )?;
                }
                Ok(())
            }
            Self::LeftToReview {
                command: Some(command),
            } => writeln!(
                f,
                "trust: left to Codex's review screen (codex exec skips untrusted hooks); to trust coord's hooks: {command}"
            ),
            Self::LeftToReview { command: None } => writeln!(
                f,
                "trust: left to Codex's review screen: project hooks are trusted in Codex, not by coord"
            ),
        }
    }
}

/// What follows an http handler's `POST <url>` for a person: its header, never the token.
pub(crate) fn token_note(form: HandlerForm) -> &'static str {
    match form {
        HandlerForm::Http => " with X-Coord-Hook-Token: ***",
        HandlerForm::Shell | HandlerForm::Exec => "",
    }
}

/// An argv as a TOML-like list, for one line of text.
pub(crate) fn argv_text(argv: &[String]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

impl FileReport {
    /// Saves a file that `operation` made `changes` to (with `save`, only when there are
    /// changes) and reports what happened to it.
    pub(crate) fn saved(
        path: &Path,
        operation: Operation,
        changes: Vec<Change>,
        save: impl FnOnce() -> Result<Option<Written>, SetupError>,
    ) -> Result<Self, SetupError> {
        let written = if changes.is_empty() { None } else { save()? };
        let outcome = match (written, operation) {
            (
                Some(Written {
                    backup: Some(backup),
                }),
                _,
            ) => FileOutcome::Written { backup },
            (Some(Written { backup: None }), _) => FileOutcome::Created,
            (None, Operation::Install) => FileOutcome::AlreadyInstalled,
            (None, Operation::Uninstall) => FileOutcome::NothingToRemove,
        };
        Ok(Self {
            path: path.to_owned(),
            outcome,
            changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_one_line_and_never_show_a_token() {
        let url = "POST http://127.0.0.1:7078/coord/hook/Stop";
        let lines = [
            (
                Change::HookAdded {
                    event: "Stop".into(),
                    command: url.into(),
                    form: HandlerForm::Http,
                },
                "added Stop: POST http://127.0.0.1:7078/coord/hook/Stop with X-Coord-Hook-Token: ***",
            ),
            (
                Change::HookRetargeted {
                    event: "Stop".into(),
                    from: "/opt/coord hook Stop".into(),
                    from_form: HandlerForm::Shell,
                    to: url.into(),
                    form: HandlerForm::Http,
                },
                "Stop: now POST http://127.0.0.1:7078/coord/hook/Stop with X-Coord-Hook-Token: *** (was /opt/coord hook Stop)",
            ),
            (
                Change::HookRetargeted {
                    event: "Stop".into(),
                    from: url.into(),
                    from_form: HandlerForm::Http,
                    to: url.into(),
                    form: HandlerForm::Http,
                },
                "Stop: now POST http://127.0.0.1:7078/coord/hook/Stop with X-Coord-Hook-Token: *** (a new token)",
            ),
            (
                Change::HookRetargeted {
                    event: "Stop".into(),
                    from: url.into(),
                    from_form: HandlerForm::Http,
                    to: "/opt/coord hook Stop".into(),
                    form: HandlerForm::Exec,
                },
                "Stop: now /opt/coord hook Stop (was POST http://127.0.0.1:7078/coord/hook/Stop)",
            ),
            (
                Change::HookRemoved {
                    event: "Stop".into(),
                    command: url.into(),
                    form: HandlerForm::Http,
                },
                "removed Stop: POST http://127.0.0.1:7078/coord/hook/Stop",
            ),
        ];
        for (change, line) in lines {
            assert_eq!(change.to_string(), line);
        }
    }
}
