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
    /// Where Claude Code keeps its per-process status files (`sessions/` under
    /// `CLAUDE_CONFIG_DIR`, else `~/.claude`), when known.
    pub claude_sessions: Option<std::path::PathBuf>,
    /// Where Codex files its sessions' rollouts (`sessions/` under `CODEX_HOME`, else
    /// `~/.codex`), when known.
    pub codex_sessions: Option<std::path::PathBuf>,
    /// The home directory of the user whose agents are found by their processes (`HOME`):
    /// only agents started with this `HOME` are listed, as only the status files under it are.
    /// `None` finds none.
    pub home: Option<std::path::PathBuf>,
}

impl HostInfo {
    /// This machine. `COORD_HOST` overrides its name (for containers whose host name changes at
    /// every start, or several machines that share one).
    #[must_use]
    pub fn current() -> Self {
        let name = std::env::var("COORD_HOST")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                rustix::system::uname()
                    .nodename()
                    .to_string_lossy()
                    .into_owned()
            });
        let boot_id = fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let home = env("HOME").map(std::path::PathBuf::from);
        let claude_sessions = env("CLAUDE_CONFIG_DIR")
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".claude")))
            .map(|dir| dir.join("sessions"));
        let codex_sessions = env("CODEX_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".codex")))
            .map(|dir| dir.join("sessions"));
        Self {
            name,
            boot_id,
            claude_sessions,
            codex_sessions,
            home,
        }
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
    read_start_time(pid, false)
}

/// The start time of a child of this process, even one that has ended and is not reaped yet.
#[must_use]
pub fn child_start_time(pid: u32) -> Option<u64> {
    read_start_time(pid, true)
}

fn read_start_time(pid: u32, zombie_too: bool) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself hold spaces or parentheses:
    // the fields that follow start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    if !zombie_too && (state == "Z" || state == "X") {
        return None;
    }
    // `state` was field 3; field 22 is 19 further.
    fields.nth(18)?.parse().ok()
}

/// The parent of the process `pid` (field 4 of `/proc/<pid>/stat`); `None` when there is no
/// such process.
#[must_use]
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_ascii_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The agent process a hook runs under: the nearest ancestor of `from` (itself included) that
/// is Claude Code or Codex, run directly or by a JavaScript runtime. Hooks run under a shell that
/// the agent started, so the hook's parent is never the agent itself.
#[must_use]
pub fn find_agent(from: u32) -> Option<u32> {
    let mut pid = from;
    for _ in 0..16 {
        if pid <= 1 {
            return None;
        }
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = &stat[open + 1..close];
        if is_agent(pid, comm) {
            return Some(pid);
        }
        pid = stat[close + 1..]
            .split_ascii_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
    }
    None
}

fn is_agent(pid: u32, comm: &str) -> bool {
    match comm {
        "claude" | "codex" => true,
        "node" | "bun" | "deno" => {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline.split(|b| *b == 0).skip(1).any(|arg| {
                let name = arg.rsplit(|b| *b == b'/').next().unwrap_or_default();
                name.starts_with(b"claude") || name.starts_with(b"codex")
            })
        }
        _ => false,
    }
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
    fn the_agent_is_found_above_the_hook_shell() {
        let dir = tempfile::tempdir().unwrap();
        let agent = dir.path().join("claude");
        // A symlink names the process (its comm) without a written file a concurrent fork
        // could hold open.
        std::os::unix::fs::symlink("/bin/sh", &agent).unwrap();
        // claude -> sh -> sleep: the sleep stands for the hook.
        let mut child = std::process::Command::new(&agent)
            .args(["-c", "sh -c 'sleep 5' & wait"])
            .spawn()
            .unwrap();
        let hook = (0..100).find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let out = std::process::Command::new("pgrep")
                .args(["-f", "^sleep 5$"])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.trim().parse::<u32>().ok())
                .find(|p| find_agent(*p) == Some(child.id()))
        });
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(hook.is_some(), "the agent was not found above its hook");
        assert_eq!(
            find_agent(std::process::id()),
            None,
            "a test runner is no agent"
        );
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped_correctly() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a b) (c");
        std::os::unix::fs::symlink("/bin/sleep", &odd).unwrap();
        let mut child = std::process::Command::new(&odd).arg("5").spawn().unwrap();
        let t = start_time(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        let mine = start_time(std::process::id()).unwrap();
        assert!(t.is_some_and(|t| t >= mine), "{t:?} vs {mine}");
    }

    #[test]
    fn the_parent_is_read_from_the_process_table() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let parent = parent_of(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(parent, Some(std::process::id()));
        assert_eq!(parent_of(u32::MAX - 1), None);
    }
}
