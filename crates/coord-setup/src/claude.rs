//! Claude Code: coord's hooks in `settings.json`.
//!
//! User scope edits `<CLAUDE_CONFIG_DIR or ~/.claude>/settings.json`, project scope
//! `<project>/.claude/settings.json` (the shared one, not `settings.local.json`). Claude Code
//! runs every hook without asking, so there is nothing to trust. Its handlers take any of the
//! three forms of [`crate::handler`], as the caller's [`crate::Delivery`] asks (the http form is
//! refused in project scope before this module is called).

use std::path::PathBuf;

use crate::handler::Target;
use crate::hooks_json::{self, Wanted};
use crate::json_file::JsonFile;
use crate::report::{FileReport, Operation};
use crate::status::FileStatus;
use crate::{Delivery, Paths, Scope};

/// The events coord hooks, in the order they are added.
pub(crate) const EVENTS: [&str; 13] = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "Notification",
    "Stop",
    "StopFailure",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "SessionEnd",
];

/// Seconds Claude Code waits for one of coord's hooks.
const TIMEOUT: u64 = 5;

/// The `settings.json` of `scope`.
pub(crate) fn settings_path(scope: Scope, paths: &Paths) -> PathBuf {
    match scope {
        Scope::User => paths
            .claude_config_dir
            .clone()
            .unwrap_or_else(|| paths.home.join(".claude"))
            .join("settings.json"),
        Scope::Project => paths.project_dir.join(".claude").join("settings.json"),
    }
}

fn wanted(coord: &str, delivery: &Delivery) -> Vec<Wanted> {
    EVENTS
        .iter()
        .map(|&event| Wanted {
            event,
            target: Target::new(delivery, coord, event),
            timeout: TIMEOUT,
        })
        .collect()
}

pub(crate) fn install(
    scope: Scope,
    paths: &Paths,
    coord: &str,
    delivery: &Delivery,
) -> Result<Vec<FileReport>, crate::SetupError> {
    let mut file = JsonFile::load(&settings_path(scope, paths))?;
    let changes = hooks_json::install(&mut file.root, &file.path, &wanted(coord, delivery))?;
    Ok(vec![FileReport::saved(
        &file.path,
        Operation::Install,
        changes,
        || file.save(),
    )?])
}

pub(crate) fn uninstall(scope: Scope, paths: &Paths) -> Result<Vec<FileReport>, crate::SetupError> {
    let mut file = JsonFile::load(&settings_path(scope, paths))?;
    let changes = hooks_json::uninstall(&mut file.root, &file.path)?;
    Ok(vec![FileReport::saved(
        &file.path,
        Operation::Uninstall,
        changes,
        || file.save(),
    )?])
}

pub(crate) fn status(
    scope: Scope,
    paths: &Paths,
    coord: &str,
) -> Result<Vec<FileStatus>, crate::SetupError> {
    let file = JsonFile::load(&settings_path(scope, paths))?;
    let found = hooks_json::find(&file.root, &file.path)?;
    Ok(vec![FileStatus::Hooks {
        path: file.path.clone(),
        exists: file.exists(),
        events: hooks_json::event_statuses(&found, &EVENTS, coord, |_| None),
    }])
}
