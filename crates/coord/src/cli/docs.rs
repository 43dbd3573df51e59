//! The examples `--help` ends with for the commands people use first, and the arguments of
//! `coord completions` and `coord man`.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::Args;

pub(super) const EXAMPLES_PS: &str = "Examples:
  coord ps                         every session, its state and why
  coord ps --state blocked,stale   only those waiting for you or hung
  coord ps --watch                 redraw every second
  coord ps --json | jq '.sessions[] | select(.state == \"dead\") | .id'";

pub(super) const EXAMPLES_HOOKS: &str = "Examples:
  coord hooks install                      Claude Code and Codex, for this user
  coord hooks install --runtime codex --trust
  coord hooks install --scope project      this project's .claude/settings.json
  coord hooks status                       what is installed and whether it calls this coord
  coord hooks uninstall                    exactly what install added";

pub(super) const EXAMPLES_RUN: &str = "Examples:
  coord run -- claude                      registered, watched, its end recorded
  coord run --tmux fix-ci --task 'fix CI' -- codex
  coord run --label team=infra --ttl 10m -- ./long-job.sh";

pub(super) const EXAMPLES_TASK: &str = "Examples:
  coord task add --label team=infra 'migrate the schema'   prints its id
  read task token < <(coord task claim)                    as the session (COORD_ID)
  coord task progress \"$task\" --token \"$token\" --details '{\"step\": 3}'
  coord task complete \"$task\" --token \"$token\"
  coord task list --all";

pub(super) const EXAMPLES_COMPLETIONS: &str = "Examples:
  coord completions bash > ~/.local/share/bash-completion/completions/coord
  coord completions zsh > \"${fpath[1]}/_coord\"
  coord completions fish > ~/.config/fish/completions/coord.fish";

pub(super) const EXAMPLES_MAN: &str = "Examples:
  coord man ~/.local/share/man/man1    then: man coord-ps";

/// `coord completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `coord man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Where to write them (created if missing).
    #[arg(default_value = "man")]
    pub dir: PathBuf,
}
