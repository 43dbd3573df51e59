//! What can stop an install, an uninstall or a status read.
//!
//! Every error names the file it is about: the person reading it has to open that file. A file
//! that does not parse also gets its line and column, and is never written.

use std::io;
use std::path::PathBuf;

use crate::HandlerForm;

/// Why a setup operation was refused or failed. Nothing was written when one is returned, except
/// where a variant says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The coord binary's path is not absolute: an agent runs hooks from its own working directory.
    #[error("the coord binary path must be absolute, got {0}")]
    CoordPathNotAbsolute(PathBuf),
    /// The coord binary's path is not valid UTF-8, so it cannot be written into a settings file.
    #[error("the coord binary path is not valid UTF-8: {0}")]
    CoordPathNotUtf8(PathBuf),
    /// Codex was asked for hooks in another form than the shell's: Codex runs command hooks
    /// only, through the shell, and computes its trust hash over the shell command.
    #[error(
        "Codex hooks can only be installed in the shell form, not {0}: Codex runs command hooks only, through the shell, and its trust hash is computed over the shell command"
    )]
    CodexShellOnly(HandlerForm),
    /// HTTP hooks were asked for in a project's settings, which are usually committed: the
    /// token they carry must not be shared.
    #[error(
        "{0}: HTTP hooks are not installed in project scope: they carry coord's token, and a project's settings.json is usually committed and shared; install them in user scope, or use the shell or exec form here"
    )]
    HttpInProject(PathBuf),
    /// The base URL of HTTP hooks is not `http://` followed by a host and a port alone.
    #[error(
        "the HTTP hook base must be http:// followed by a host and a port, with no path or trailing slash (like http://127.0.0.1:7078), got {0:?}"
    )]
    HttpBase(String),
    /// The token of HTTP hooks is empty or holds characters a header value cannot (it is not
    /// repeated here).
    #[error(
        "the HTTP hook token must be one or more visible ASCII characters, with no spaces (it is sent in the X-Coord-Hook-Token header)"
    )]
    HttpToken,
    /// A settings file is not valid JSON or TOML.
    #[error("{path}:{line}:{column}: cannot parse: {message} (the file was left as it was)")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1 (0 for an end of file found at the start of a line).
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A settings file parses, but a value coord must edit has another type than the agent uses.
    #[error("{path}: {key} is {found}, expected {expected} (the file was left as it was)")]
    Shape {
        /// The file.
        path: PathBuf,
        /// Where in the file, as a dotted path (`hooks.Stop`, `notify`).
        key: String,
        /// The type the agent expects there.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// The file changed on disk between reading it and replacing it (the agent wrote it meanwhile).
    #[error("{0} changed while coord was editing it, so it was not written; run the command again")]
    ChangedMeanwhile(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
}

impl SetupError {
    /// An I/O error about `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
