//! Reading what an agent hook sends on stdin: bounded in time and size, never trusted.
//!
//! Agents write one JSON document to a hook's stdin and close it. coord reads it only when
//! stdin is not a terminal, waits a bounded time for it (a caller that leaves an idle pipe open
//! costs at most that wait), and keeps only the fields [`HookPayload`] names.

use std::io::{IsTerminal, Read};
use std::time::{Duration, Instant};

use coord_core::agent_event::HookPayload;
use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// The most that is read from stdin; a larger event is garbage to coord.
const MAX_INPUT: usize = 4 << 20;

/// How long coord waits for a hook event on stdin.
pub const WAIT: Duration = Duration::from_millis(200);

/// What was on stdin.
#[derive(Debug)]
pub enum Input {
    /// Nothing: a terminal, an empty or closed stdin, or no data within the wait.
    Nothing,
    /// A hook event.
    Event(Box<HookPayload>),
    /// Something that is not a hook event (not JSON, not an object, too large, invalid UTF-8).
    Garbage,
}

/// Reads stdin if it is not a terminal, waiting at most `wait` overall.
pub fn read(wait: Duration) -> Input {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Input::Nothing;
    }
    let deadline = Instant::now() + wait;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut lock = stdin.lock();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if !readable(left) {
            break;
        }
        match lock.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > MAX_INPUT {
            return Input::Garbage;
        }
    }
    parse(&buf)
}

fn readable(wait: Duration) -> bool {
    let timeout = Timespec {
        tv_sec: wait.as_secs() as i64,
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    let stdin = rustix::stdio::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
}

/// Parses what was read.
pub fn parse(buf: &[u8]) -> Input {
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Input::Nothing;
    }
    match HookPayload::from_bytes(buf) {
        Some(event) => Input::Event(Box::new(event)),
        None => Input::Garbage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_json_object_is_an_event() {
        let ok = br#"{"session_id":"abc","cwd":"/w","transcript_path":"/t.jsonl","extra":[1]}"#;
        match parse(ok) {
            Input::Event(e) => {
                assert_eq!(e.session_id.as_deref(), Some("abc"));
                assert_eq!(e.cwd.as_deref(), Some("/w"));
                assert_eq!(e.transcript_path.as_deref(), Some("/t.jsonl"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse(b"  \n"), Input::Nothing));
        for bad in [
            &b"not json"[..],
            b"[1,2]",
            b"{\"session_id\": 5}",
            b"\xff\xfe{}",
            b"{",
            b"{\"session_id\":\"abc\",\"tool_input\":{\"command\":\"l\xffs\"}}",
        ] {
            assert!(matches!(parse(bad), Input::Garbage), "{bad:?}");
        }
    }
}
