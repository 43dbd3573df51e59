//! `coord hooks`: installing, removing and inspecting the agents' hooks.
#![allow(clippy::doc_markdown)]

use clap::{Args, Subcommand};

/// `coord hooks`.
#[derive(Debug, Args)]
pub struct HooksArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: HooksAction,
}

/// `coord hooks` actions.
#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Add coord's hooks to the agents' settings (idempotent; keeps every other hook).
    Install {
        /// Which agents and settings.
        #[command(flatten)]
        target: HooksTarget,
        /// Also mark coord's own Codex hooks as trusted (Codex runs no untrusted hook; without
        /// this, Codex asks you to review them).
        #[arg(long)]
        trust: bool,
        /// How Claude Code's hooks reach coord: a process per event started through the shell
        /// or directly (exec, Claude Code 2.1.139 and later), or posted to this host's watcher
        /// with no process at all (http; needs `coord watch --all` running). auto: exec when
        /// `claude --version` says it takes it, else shell. Codex always runs them through
        /// the shell.
        #[arg(long, value_enum, default_value = "auto")]
        via: HooksVia,
        /// With --via http: where the watcher receives hooks (its --hook-listen).
        #[arg(long, default_value = "127.0.0.1:7078", value_name = "IP:PORT")]
        hook_addr: std::net::SocketAddr,
    },
    /// Remove exactly the hooks install added.
    Uninstall {
        /// Which agents and settings.
        #[command(flatten)]
        target: HooksTarget,
    },
    /// Say what is installed, whether it calls this coord, and (Codex) whether it is trusted.
    Status {
        /// Which agents and settings.
        #[command(flatten)]
        target: HooksTarget,
    },
}

/// Which agents' settings `coord hooks` works on.
#[derive(Debug, Args)]
pub struct HooksTarget {
    /// The agent [default: every agent found for this user].
    #[arg(long, value_enum, default_value = "all")]
    pub runtime: HooksRuntime,
    /// The user's settings (every project) or this project's.
    #[arg(long, value_enum, default_value = "user")]
    pub scope: HooksScope,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The agents `coord hooks` knows.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum HooksRuntime {
    /// Claude Code.
    Claude,
    /// Codex CLI.
    Codex,
    /// Every agent found for this user.
    All,
}

/// How Claude Code's hooks reach coord.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HooksVia {
    /// exec when the installed Claude Code takes it, else shell.
    Auto,
    /// `sh -c "coord hook <Event>"`.
    Shell,
    /// `coord hook <Event>` started directly.
    Exec,
    /// Posted to this host's watcher.
    Http,
}

/// Whose settings.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum HooksScope {
    /// The user's settings.
    User,
    /// The current project's settings.
    Project,
}
