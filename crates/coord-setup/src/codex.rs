//! Codex: coord's hooks in `hooks.json`, its `notify` and, when asked, trust in `config.toml`.
//!
//! Codex runs command hooks only, and hashes the shell command for trust, so coord writes the
//! shell form here (`lib.rs` refuses any other delivery); a coord handler found in another form
//! is converted to it.
//!
//! User scope edits `<CODEX_HOME or ~/.codex>/hooks.json` and `config.toml` beside it; project
//! scope edits only `<project>/.codex/hooks.json` (trust for project hooks is given in Codex).
//! Both files are read and edited before either is written, so a file coord refuses stops the
//! whole operation with nothing written. Paths are spelled as Codex spells them in trust keys:
//! `CODEX_HOME` and the project directory resolved (Codex canonicalizes both), `~/.codex` not.

use std::collections::BTreeMap;
use std::fs;
use std::path::{self, Path, PathBuf};

use crate::codex_trust;
use crate::error::SetupError;
use crate::handler::Target;
use crate::hooks_json::{self, Wanted};
use crate::json_file::JsonFile;
use crate::report::{Change, FileReport, Operation, TrustReport};
use crate::status::FileStatus;
use crate::toml_file::TomlFile;
use crate::{Delivery, Options, Paths, Scope, notify, trust};

/// The events coord hooks, in the order they are added.
pub(crate) const EVENTS: [&str; 11] = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PreCompact",
    "SubagentStart",
    "SubagentStop",
    "Stop",
    "Interrupt",
    "SessionEnd",
];

/// Seconds Codex waits for one of coord's hooks. Codex clamps `Interrupt` and `SessionEnd` to 3 s
/// and hashes the clamped value, so coord writes 3 there: what is written is what is hashed.
fn timeout(event: &str) -> u64 {
    match event {
        "Interrupt" | "SessionEnd" => 3,
        _ => 5,
    }
}

fn wanted(coord: &str) -> Vec<Wanted> {
    EVENTS
        .iter()
        .map(|&event| Wanted {
            event,
            target: Target::new(&Delivery::Shell, coord, event),
            timeout: timeout(event),
        })
        .collect()
}

/// `dir` absolute and resolved when it exists, as Codex resolves it.
fn resolved(dir: &Path) -> PathBuf {
    fs::canonicalize(dir)
        .or_else(|_| path::absolute(dir))
        .unwrap_or_else(|_| dir.to_owned())
}

fn codex_home(paths: &Paths) -> PathBuf {
    match &paths.codex_home {
        Some(dir) => resolved(dir),
        None => paths.home.join(".codex"),
    }
}

fn config_path(paths: &Paths) -> PathBuf {
    codex_home(paths).join("config.toml")
}

fn hooks_json_path(scope: Scope, paths: &Paths) -> PathBuf {
    match scope {
        Scope::User => codex_home(paths).join("hooks.json"),
        Scope::Project => resolved(&paths.project_dir)
            .join(".codex")
            .join("hooks.json"),
    }
}

pub(crate) fn install(
    scope: Scope,
    paths: &Paths,
    opts: &Options,
    coord: &str,
) -> Result<(Vec<FileReport>, TrustReport), SetupError> {
    let wanted = wanted(coord);
    let mut hooks = JsonFile::load(&hooks_json_path(scope, paths))?;
    let before = hooks_json::find(&hooks.root, &hooks.path)?;
    let hook_changes = hooks_json::install(&mut hooks.root, &hooks.path, &wanted)?;
    let after = hooks_json::find(&hooks.root, &hooks.path)?;

    let (config, trust_report) = match scope {
        Scope::Project => (None, TrustReport::LeftToReview { command: None }),
        Scope::User => {
            let mut config = TomlFile::load(&config_path(paths))?;
            let mut changes: Vec<_> = notify::install(&mut config.doc, &config.path, coord)?
                .into_iter()
                .collect();
            let (trust_changes, report) = codex_trust::on_install(
                &mut config,
                &hooks.path,
                (&before, &after),
                &wanted,
                opts.trust_codex_hooks,
            )?;
            changes.extend(trust_changes);
            (Some((config, changes)), report)
        }
    };

    Ok((
        save(&hooks, hook_changes, config, Operation::Install)?,
        trust_report,
    ))
}

/// Writes `hooks.json` and, when it changed too, `config.toml`, and reports on each.
fn save(
    hooks: &JsonFile,
    hook_changes: Vec<Change>,
    config: Option<(TomlFile, Vec<Change>)>,
    operation: Operation,
) -> Result<Vec<FileReport>, SetupError> {
    let mut reports = vec![FileReport::saved(
        &hooks.path,
        operation,
        hook_changes,
        || hooks.save(),
    )?];
    if let Some((config, changes)) = config {
        reports.push(FileReport::saved(&config.path, operation, changes, || {
            config.save()
        })?);
    }
    Ok(reports)
}

pub(crate) fn uninstall(
    scope: Scope,
    paths: &Paths,
    coord: &str,
) -> Result<Vec<FileReport>, SetupError> {
    let mut hooks = JsonFile::load(&hooks_json_path(scope, paths))?;
    let before = hooks_json::find(&hooks.root, &hooks.path)?;
    let hook_changes = hooks_json::uninstall(&mut hooks.root, &hooks.path)?;

    let config = match scope {
        Scope::Project => None,
        Scope::User => {
            let mut config = TomlFile::load(&config_path(paths))?;
            let mut changes: Vec<_> = notify::uninstall(&mut config.doc, &config.path)?
                .into_iter()
                .collect();
            let hashes = codex_trust::coord_hashes(&before, &wanted(coord));
            changes.extend(codex_trust::remove(&mut config.doc, &hooks.path, &hashes));
            Some((config, changes))
        }
    };

    save(&hooks, hook_changes, config, Operation::Uninstall)
}

pub(crate) fn status(
    scope: Scope,
    paths: &Paths,
    coord: &str,
) -> Result<Vec<FileStatus>, SetupError> {
    let wanted = wanted(coord);
    let hooks = JsonFile::load(&hooks_json_path(scope, paths))?;
    let found = hooks_json::find(&hooks.root, &hooks.path)?;
    let config = TomlFile::load(&config_path(paths))?;
    let stored: BTreeMap<String, String> = trust::stored(&config.doc);
    let mut files = vec![FileStatus::Hooks {
        path: hooks.path.clone(),
        exists: hooks.exists(),
        events: hooks_json::event_statuses(&found, &EVENTS, coord, |f| {
            Some(codex_trust::status(&stored, &hooks.path, f))
        }),
    }];
    if scope == Scope::User {
        files.push(FileStatus::CodexConfig {
            path: config.path.clone(),
            exists: config.exists(),
            notify: notify::status(&config.doc, &config.path, coord)?,
            stale_trust: codex_trust::stale(&config.doc, &hooks.path, &found, &wanted),
        });
    }
    Ok(files)
}
