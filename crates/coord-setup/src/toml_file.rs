//! A TOML settings file (Codex's `config.toml`) read and written back with its comments, order
//! and formatting intact (`toml_edit`). A file that does not parse is refused with its line and
//! column and never written; a file whose edit changes nothing is not touched.

use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

use crate::atomic::{self, Written};
use crate::error::SetupError;

/// A TOML document, as read (or empty when the file did not exist).
#[derive(Debug)]
pub(crate) struct TomlFile {
    /// The file's path.
    pub path: PathBuf,
    original: Option<String>,
    /// The document, to edit in place.
    pub doc: DocumentMut,
}

impl TomlFile {
    /// Reads `path`; a missing file is an empty document.
    pub fn load(path: &Path) -> Result<Self, SetupError> {
        let Some(text) = atomic::read_if_exists(path)? else {
            return Ok(Self {
                path: path.to_owned(),
                original: None,
                doc: DocumentMut::new(),
            });
        };
        let doc = text.parse::<DocumentMut>().map_err(|e| {
            let offset = e.span().map_or(0, |span| span.start);
            let (line, column) = line_column(&text, offset);
            SetupError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        Ok(Self {
            path: path.to_owned(),
            original: Some(text),
            doc,
        })
    }

    /// Whether the file exists on disk.
    pub fn exists(&self) -> bool {
        self.original.is_some()
    }

    /// Writes the edited document back (atomically, after a backup), unless it renders to the
    /// bytes already on disk: then nothing is touched and `None` is returned.
    pub fn save(&self) -> Result<Option<Written>, SetupError> {
        let text = self.doc.to_string();
        if self.original.as_deref().unwrap_or("") == text {
            return Ok(None);
        }
        atomic::replace(&self.path, self.original.as_deref(), text.as_bytes()).map(Some)
    }
}

/// The line and column (both from 1, the column in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 3), (2, 1));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
