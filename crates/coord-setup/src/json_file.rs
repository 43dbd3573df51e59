//! A JSON settings file read, edited as a tree and written back in the style it was found in.
//!
//! Key order is kept (`serde_json`'s `preserve_order`); the indentation, the trailing newline
//! and CRLF line ends are detected when reading and reproduced when writing, so that a file in
//! the agent's own format comes back byte for byte once coord's entries are taken out again. A
//! file that does not parse, or whose top level is not an object, is refused and never written.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, PrettyFormatter};
use serde_json::{Map, Value};

use crate::atomic::{self, Written};
use crate::error::SetupError;

/// How a JSON file was laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Style {
    /// One level of indentation; `None` for a file on one line.
    indent: Option<String>,
    /// Whether the file ends with a line end.
    final_newline: bool,
    /// Whether lines end with CRLF.
    crlf: bool,
}

impl Default for Style {
    /// Claude Code's and Codex's own format: two spaces, a final newline.
    fn default() -> Self {
        Self {
            indent: Some("  ".to_owned()),
            final_newline: true,
            crlf: false,
        }
    }
}

impl Style {
    /// The layout of `text`, whose top-level object is `empty` or not.
    fn detect(text: &str, empty: bool) -> Self {
        let body = text.trim_end();
        let indent = if body.contains('\n') {
            let unit = body
                .lines()
                .skip(1)
                .map(|line| &line[..line.len() - line.trim_start().len()])
                .find(|lead| !lead.is_empty())
                .unwrap_or("  ");
            Some(unit.to_owned())
        } else if empty {
            // `{}`: nothing to go by; the agent's own format is the best guess.
            Some("  ".to_owned())
        } else {
            None
        };
        Self {
            indent,
            final_newline: text.ends_with('\n'),
            crlf: text.contains("\r\n"),
        }
    }
}

/// A JSON file whose top level is an object, as read (or empty when it did not exist).
#[derive(Debug)]
pub(crate) struct JsonFile {
    /// The file's path.
    pub path: PathBuf,
    original: Option<String>,
    style: Style,
    /// The top-level object, to edit in place.
    pub root: Map<String, Value>,
}

impl JsonFile {
    /// Reads `path`; a missing file is an empty object in the default style.
    pub fn load(path: &Path) -> Result<Self, SetupError> {
        let Some(text) = atomic::read_if_exists(path)? else {
            return Ok(Self {
                path: path.to_owned(),
                original: None,
                style: Style::default(),
                root: Map::new(),
            });
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            let message = e.to_string();
            let position = format!(" at line {} column {}", e.line(), e.column());
            SetupError::Parse {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                message: message
                    .strip_suffix(&position)
                    .unwrap_or(&message)
                    .to_owned(),
            }
        })?;
        let Value::Object(root) = value else {
            return Err(SetupError::Shape {
                path: path.to_owned(),
                key: "the top level".to_owned(),
                expected: "an object",
                found: type_name(&value),
            });
        };
        Ok(Self {
            path: path.to_owned(),
            style: Style::detect(&text, root.is_empty()),
            original: Some(text),
            root,
        })
    }

    /// Whether the file exists on disk.
    pub fn exists(&self) -> bool {
        self.original.is_some()
    }

    /// Writes the edited tree back (atomically, after a backup), unless it renders to the bytes
    /// already on disk: then nothing is touched and `None` is returned.
    pub fn save(&self) -> Result<Option<Written>, SetupError> {
        let text = self.render()?;
        if self.original.as_deref() == Some(text.as_str()) {
            return Ok(None);
        }
        atomic::replace(&self.path, self.original.as_deref(), text.as_bytes()).map(Some)
    }

    fn render(&self) -> Result<String, SetupError> {
        let mut out = Vec::new();
        let written = match &self.style.indent {
            Some(indent) => {
                let formatter = PrettyFormatter::with_indent(indent.as_bytes());
                self.root
                    .serialize(&mut serde_json::Serializer::with_formatter(
                        &mut out, formatter,
                    ))
            }
            None => self
                .root
                .serialize(&mut serde_json::Serializer::with_formatter(
                    &mut out,
                    CompactFormatter,
                )),
        };
        written.map_err(|e| SetupError::io(&self.path, e.into()))?;
        let mut text = String::from_utf8(out).map_err(|e| {
            SetupError::io(
                &self.path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        if self.style.final_newline {
            text.push('\n');
        }
        if self.style.crlf {
            text = text.replace('\n', "\r\n");
        }
        Ok(text)
    }
}

/// A JSON value's type, as an error message names it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_is_detected() {
        assert_eq!(Style::detect("{\n  \"a\": 1\n}\n", false), Style::default());
        let four = Style::detect("{\n    \"a\": {\n        \"b\": 1\n    }\n}", false);
        assert_eq!(four.indent.as_deref(), Some("    "));
        assert!(!four.final_newline);
        let tab = Style::detect("{\r\n\t\"a\": 1\r\n}\r\n", false);
        assert_eq!(tab.indent.as_deref(), Some("\t"));
        assert!(tab.crlf && tab.final_newline);
        assert_eq!(Style::detect("{\"a\":1}", false).indent, None);
        assert_eq!(Style::detect("{}\n", true), Style::default());
        assert_eq!(Style::detect("{ }", true).indent.as_deref(), Some("  "));
    }
}
