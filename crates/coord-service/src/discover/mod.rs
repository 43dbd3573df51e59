//! Zero setup: the agent sessions running on this host, found with no hook installed and no
//! command run, merged by session id with what hooks and commands report.
//!
//! - [`claude`]: Claude Code sessions, from the status file each Claude Code process keeps.
//! - [`processes`]: Codex, pi, opencode, Gemini CLI and aider sessions, from the process table
//!   ([`agents`]: which processes are agents; [`codex`]: the session a Codex process holds
//!   open; [`tmux`]: the pane each runs in).
//!
//! `coord ps` and `coord show` run every finder before they judge, and `coord watch --all` on
//! every round and every change of a status directory, so a session that was running before
//! coord was installed is listed, and held, all the same.

mod agents;
mod claude;
mod codex;
mod processes;
pub mod tmux;

use crate::{Result, Service};

impl Service {
    /// Registers or renews every agent session this host runs that can be found without
    /// setup; returns how many there are.
    pub fn discover(&self) -> Result<usize> {
        Ok(self.discover_claude()? + self.discover_processes()?)
    }
}
