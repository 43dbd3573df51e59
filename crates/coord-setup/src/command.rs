//! The shell command line a hook runs, written and recognised.
//!
//! coord marks nothing in the agents' files: a shell-form handler of coord's is recognised by its
//! command alone, a program whose file name is `coord` (any directory, possibly shell-quoted)
//! followed by ` hook <Event>`. Writing and recognising live together so that each reads what the
//! other writes. The other forms of a handler (exec, http) are in [`crate::handler`].

use std::path::Path;

/// One handler command found in a settings file that is coord's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CoordCommand {
    /// The program, unquoted.
    pub program: String,
    /// The event named after `hook`.
    pub event: String,
}

/// The command a hook of `event` runs: `<coord> hook <event>`, the path quoted only if it needs it.
pub(crate) fn hook_command(coord: &str, event: &str) -> String {
    format!("{} hook {event}", shell_quote(coord))
}

/// `word` as one shell word: unchanged when it holds only characters no shell treats specially,
/// single-quoted otherwise.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The coord program and event of `command`, or `None` when it is not a coord hook command.
pub(crate) fn parse_hook_command(command: &str) -> Option<CoordCommand> {
    let (rest, event) = command.trim().rsplit_once(char::is_whitespace)?;
    if !is_event_name(event) {
        return None;
    }
    let (program, hook) = rest.trim_end().rsplit_once(char::is_whitespace)?;
    if hook != "hook" {
        return None;
    }
    let program = unquote_word(program.trim())?;
    is_coord_program(&program).then(|| CoordCommand {
        program,
        event: event.to_owned(),
    })
}

/// Whether `word` can be the event a coord hook names: letters, digits, `_` and `-`.
pub(crate) fn is_event_name(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether `program` names a file called `coord`.
pub(crate) fn is_coord_program(program: &str) -> bool {
    Path::new(program)
        .file_name()
        .is_some_and(|name| name == "coord")
}

/// The text of one shell word (quotes and backslashes removed), or `None` when `word` is more
/// than one word or is not a plain word (an unclosed quote, a variable, a glob…).
fn unquote_word(word: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => out.push(c),
                }
            },
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        c @ ('"' | '\\' | '$' | '`') => out.push(c),
                        c => {
                            out.push('\\');
                            out.push(c);
                        }
                    },
                    '$' | '`' => return None,
                    c => out.push(c),
                }
            },
            '\\' => out.push(chars.next()?),
            c if c.is_whitespace() || "$`*?[]{}()<>|;&~#!".contains(c) => return None,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(command: &str) -> Option<(String, String)> {
        parse_hook_command(command).map(|c| (c.program, c.event))
    }

    #[test]
    fn plain_paths_are_not_quoted_others_are() {
        assert_eq!(
            hook_command("/usr/local/bin/coord", "Stop"),
            "/usr/local/bin/coord hook Stop"
        );
        assert_eq!(
            hook_command("/home/a b/it's/coord", "Stop"),
            r"'/home/a b/it'\''s/coord' hook Stop"
        );
    }

    #[test]
    fn what_is_written_is_recognised() {
        for path in ["/usr/bin/coord", "/home/a b/it's/coord", "/x/$HOME/coord"] {
            let command = hook_command(path, "PreToolUse");
            assert_eq!(
                parsed(&command),
                Some((path.to_owned(), "PreToolUse".to_owned())),
                "{command}"
            );
        }
    }

    #[test]
    fn coord_commands_in_other_spellings_are_recognised() {
        assert_eq!(
            parsed("coord hook Stop"),
            Some(("coord".into(), "Stop".into()))
        );
        assert_eq!(
            parsed(r#"  "/opt/my tools/coord"  hook   SessionEnd "#),
            Some(("/opt/my tools/coord".into(), "SessionEnd".into()))
        );
        assert_eq!(
            parsed(r"/opt/my\ tools/coord hook codex-notify"),
            Some(("/opt/my tools/coord".into(), "codex-notify".into()))
        );
    }

    #[test]
    fn other_commands_are_not_coords() {
        for command in [
            "",
            "coord",
            "coord hook",
            "/usr/bin/coordinator hook Stop",
            "/usr/bin/coord heartbeat --hook",
            "env X=1 coord hook Stop",
            "coord hook Stop && rm -rf /",
            "$HOME/bin/coord hook Stop",
            "'/unclosed/coord hook Stop",
            "notify-send done",
        ] {
            assert_eq!(parsed(command), None, "{command}");
        }
    }
}
