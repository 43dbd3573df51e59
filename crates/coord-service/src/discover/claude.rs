//! Claude Code sessions running on this host, found from the status file each Claude Code
//! process keeps (`~/.claude/sessions/<pid>.json`), with no hook installed.
//!
//! A file is believed only if its process is running with the start time the file records, in
//! this boot: after `kill -9` the file stays behind, and its PID may since belong to another
//! process. A believed file registers its session (or, where hooks report it too, merges with
//! it by session id) and its `status` is a signal with its own time, so it can end a phase no
//! hook ends: Esc or Ctrl+C during a tool turns the status to `idle` with no event at all.
//! Old-format `pid-<n>.json` files are orphans and ignored.

use std::fs;
use std::path::Path;

use coord_core::{Beat, Phase, ProcessFact, Runtime, Source, Timestamp};
use serde::Deserialize;

use crate::host::start_time;
use crate::{RegisterRequest, Result, Service};

/// The fields of a status file coord reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusFile {
    pid: u32,
    session_id: String,
    cwd: Option<String>,
    /// Field 22 of `/proc/<pid>/stat`, as a string.
    proc_start: Option<String>,
    /// `linux:<boot id>:pid:[<namespace>]`.
    pid_domain: Option<String>,
    status: Option<String>,
    waiting_for: Option<String>,
    status_updated_at: Option<i64>,
    updated_at: Option<i64>,
}

impl StatusFile {
    /// The boot id the file was written in, without dashes.
    fn boot_id(&self) -> Option<String> {
        let domain = self.pid_domain.as_deref()?;
        let mut parts = domain.split(':');
        (parts.next() == Some("linux")).then(|| parts.next().unwrap_or_default().replace('-', ""))
    }

    /// The phase its status says, if it says one that a hook's report would not already give.
    fn phase(&self, current: &Phase) -> Option<Phase> {
        match self.status.as_deref()? {
            "idle" => Some(Phase::Waiting),
            // Already blocked: the report before (a hook's names the tool) says more than
            // `waitingFor` ("input needed" for a question, "permission prompt" for a plan).
            "waiting" if matches!(current, Phase::Blocked { .. }) => None,
            "waiting" => Some(Phase::Blocked {
                on: self
                    .waiting_for
                    .clone()
                    .unwrap_or_else(|| "a person".to_owned()),
            }),
            // Busy covers working and running a tool: only a session that looked turned over
            // or blocked is working again.
            "busy" => match current {
                Phase::Waiting
                | Phase::Blocked { .. }
                | Phase::Background
                | Phase::Limited { .. } => Some(Phase::Working),
                _ => None,
            },
            "shell" => Some(Phase::Background),
            _ => None,
        }
    }
}

impl Service {
    /// Registers or renews every Claude Code session whose status file this host holds and
    /// believes; returns how many there are.
    pub(super) fn discover_claude(&self) -> Result<usize> {
        let Some(dir) = self.host.claude_sessions.as_deref() else {
            return Ok(0);
        };
        let mut found = 0;
        for file in read_status_files(dir) {
            let Some(start) = self.believed(&file) else {
                continue;
            };
            found += 1;
            self.merge_status(&file, start)?;
        }
        Ok(found)
    }

    /// The Claude Code process of session `session_id` on this host, from its status file.
    /// The watcher's hook receiver asks this: an HTTP hook says which session, not which
    /// process.
    #[must_use]
    pub fn claude_pid(&self, session_id: &str) -> Option<u32> {
        let dir = self.host.claude_sessions.as_deref()?;
        read_status_files(dir)
            .into_iter()
            .find(|f| f.session_id == session_id && self.believed(f).is_some())
            .map(|f| f.pid)
    }

    /// The start time of the process a status file names, if the file is to be believed: that
    /// process runs, started when the file says, in this boot. After `kill -9` the file stays
    /// behind, and its PID may since belong to another process.
    fn believed(&self, file: &StatusFile) -> Option<u64> {
        let start = start_time(file.pid)?;
        let recorded = file
            .proc_start
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok());
        let our_boot = self.host.boot_id.as_deref().map(|b| b.replace('-', ""));
        let other_boot = file.boot_id().zip(our_boot).is_some_and(|(a, b)| a != b);
        (recorded.is_none_or(|r| r == start) && !other_boot).then_some(start)
    }

    /// Applies one believed status file to the store.
    fn merge_status(&self, file: &StatusFile, start: u64) -> Result<()> {
        let at = Timestamp::from_millis(file.status_updated_at.or(file.updated_at).unwrap_or(0));
        let stored = self.store.session(&file.session_id)?;
        let known = stored.as_ref().filter(|s| {
            s.pid == Some(file.pid) && !matches!(s.process, ProcessFact::Exited { .. })
        });
        let Some(session) = known else {
            let req = RegisterRequest {
                id: Some(file.session_id.clone()),
                pid: Some(file.pid),
                pid_start: Some(start),
                runtime: Some(Runtime::Claude),
                cwd: file.cwd.clone().map(Into::into),
                phase: file.phase(&Phase::Working),
                source: Some(Source::Status),
                ..RegisterRequest::default()
            };
            self.store.register(&self.registration(req)?)?;
            return Ok(());
        };
        let seen = session.signals.get(&Source::Status).copied();
        let phase = file.phase(&session.phase);
        if seen.is_some_and(|t| t >= at) && phase.is_none() {
            return Ok(());
        }
        let beat = Beat {
            phase,
            ..Beat::alive(Source::Status, at)
        };
        self.store.renew(&session.id, &beat)?;
        Ok(())
    }
}

/// The status files in `dir` that parse; anything else there is ignored.
fn read_status_files(dir: &Path) -> Vec<StatusFile> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".json") && name.trim_end_matches(".json").parse::<u32>().is_ok()
        })
        .filter_map(|e| fs::read(e.path()).ok())
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .collect()
}
