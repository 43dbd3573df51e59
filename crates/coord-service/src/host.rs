//! This machine, as coord sees it: its name, its boot, and its processes.
//!
//! A process is identified by its PID *and* its start time (field 22 of `/proc/<pid>/stat`,
//! clock ticks since boot) within one boot (`/proc/sys/kernel/random/boot_id`). A PID that is
//! free again, or that now belongs to a process with another start time, is a process that
//! ended: a recycled PID is never taken for the old process.

use std::fs;

use coord_core::{Runtime, Session};

/// The identity of this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// The host name, as sessions record it.
    pub name: String,
    /// The kernel's boot id, when readable.
    pub boot_id: Option<String>,
}

impl HostInfo {
    /// This machine.
    #[must_use]
    pub fn current() -> Self {
        let name = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let boot_id = fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Self { name, boot_id }
    }

    /// Looks the session's process up, when it runs on this host and its PID is known.
    /// `None` when this host cannot judge it.
    #[must_use]
    pub fn probe(&self, session: &Session) -> Option<Liveness> {
        if session.host != self.name {
            return None;
        }
        let pid = session.pid?;
        if session.boot_id.is_some() && session.boot_id != self.boot_id {
            return Some(Liveness::Gone);
        }
        Some(match (start_time(pid), session.pid_start) {
            (Some(now), Some(then)) if now == then => Liveness::Running,
            (Some(_), None) => Liveness::Running,
            _ => Liveness::Gone,
        })
    }
}

/// What a probe of the process table found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The process runs, with the recorded start time.
    Running,
    /// It is gone: no such PID, a zombie, another start time, or another boot.
    Gone,
}

/// The start time of a running process (field 22 of `/proc/<pid>/stat`); `None` when there is
/// no such process or it is a zombie.
#[must_use]
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself hold spaces or parentheses:
    // the fields that follow start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `state` was field 3; field 22 is 19 further.
    fields.nth(18)?.parse().ok()
}

/// The PID of this process's parent: the program that called coord.
#[must_use]
pub fn parent_pid() -> u32 {
    rustix::process::getppid().map_or(1, |p| p.as_raw_nonzero().get() as u32)
}

/// Guesses the runtime from the process's name.
#[must_use]
pub fn guess_runtime(pid: u32) -> Runtime {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    match comm.trim() {
        "claude" => Runtime::Claude,
        "codex" => Runtime::Codex,
        "pi" => Runtime::Pi,
        "sh" | "bash" | "dash" | "zsh" | "fish" | "ksh" | "tcsh" | "csh" => Runtime::Shell,
        _ => Runtime::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_start_time_is_read_and_stable() {
        let me = std::process::id();
        let t = start_time(me).expect("this process runs");
        assert_eq!(start_time(me), Some(t));
        assert!(start_time(u32::MAX - 1).is_none());
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped_correctly() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a b) (c");
        std::fs::copy("/bin/sleep", &odd).unwrap();
        let mut child = std::process::Command::new(&odd).arg("5").spawn().unwrap();
        let t = start_time(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        let mine = start_time(std::process::id()).unwrap();
        assert!(t.is_some_and(|t| t >= mine), "{t:?} vs {mine}");
    }
}
