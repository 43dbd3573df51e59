//! What can stop an install, an uninstall or a status read.
//!
//! Every error names the file it is about: the person reading it has to open that file. A file
//! that does not parse also gets its line and column, and is never written.

use std::io;
use std::path::PathBuf;

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
