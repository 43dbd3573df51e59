//! Printing for people (aligned columns, colour on a terminal only, relative times) and for
//! scripts (one JSON document, RFC 3339 and epoch-ms times). Commands build rows; this module
//! decides how they look.

pub mod json;
pub mod table;

use std::io::{IsTerminal, Write as _};

use coord_core::State;

/// Writes a command's output to stdout, as `print!` does ([`out!`], [`outln!`]). A reader that
/// went away (`coord events | head`) ends the command quietly with success, as it ends `cat` or
/// `grep`; any other failure to write ends it with the error, as a failed command does.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        unwritable(&e);
    }
}

/// Ends the command after stdout refused a write: quietly when its reader went away.
pub fn unwritable(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("coord: cannot write the output: {e}");
    std::process::exit(1);
}

/// `print!` for a command's output: see [`write_out`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::render::write_out(format_args!($($arg)*)) };
}

/// `println!` for a command's output: see [`write_out`].
macro_rules! outln {
    () => { $crate::render::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::render::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {out, outln};

/// Whether stdout gets colour: a terminal, and `NO_COLOR` unset or empty.
#[must_use]
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The ANSI colour of a state.
fn state_color(state: State) -> &'static str {
    match state {
        State::Active => "\x1b[32m",
        State::InTool => "\x1b[36m",
        State::Blocked => "\x1b[1;35m",
        State::Limited => "\x1b[35m",
        State::Background => "\x1b[2;36m",
        State::Idle => "\x1b[34m",
        State::Stale => "\x1b[33m",
        State::Unknown => "\x1b[90m",
        State::Dead => "\x1b[1;31m",
        State::Ended => "\x1b[2m",
    }
}

/// `text` in the colour of `state` when `color` is on.
#[must_use]
pub fn paint(state: State, text: &str, color: bool) -> String {
    if color {
        format!("{}{text}\x1b[0m", state_color(state))
    } else {
        text.to_owned()
    }
}

pub use coord_core::time::ago;

pub use coord_service::json::rfc3339;

#[cfg(test)]
mod tests {
    use coord_core::Timestamp;

    use super::*;

    #[test]
    fn times_print_for_scripts() {
        let t = Timestamp::from_millis(1_764_064_800_123);
        assert_eq!(rfc3339(t), "2025-11-25T10:00:00.123Z");
    }

    #[test]
    fn colour_wraps_the_text_only_when_asked() {
        assert_eq!(paint(State::Dead, "dead", false), "dead");
        assert_eq!(paint(State::Dead, "dead", true), "\x1b[1;31mdead\x1b[0m");
    }
}
