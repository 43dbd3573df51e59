//! Codex's rollout files, the session a Codex process runs.
//!
//! Codex writes each session to `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<ts>-<session id>.jsonl`
//! and keeps the file open while the session lives in the process (`codex exec`, the TUI with
//! `--no-daemon`, or the shared `app-server` daemon, which may hold several). The file a process
//! holds open names its session with the id Codex's hooks report, so a session found here and
//! one its hooks register are the same record. Its last turn event says whether a turn runs.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use coord_core::Phase;

/// A rollout file a process holds open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    /// The Codex session id (a UUID), from the file name.
    pub session_id: String,
    /// The file.
    pub path: PathBuf,
}

/// The rollout files the process `pid` holds open, each session once, in the order of its
/// descriptors. Empty when there is none or the descriptors cannot be read.
#[must_use]
pub fn held_rollouts(pid: u32) -> Vec<Rollout> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut held: Vec<Rollout> = Vec::new();
    for fd in fds.filter_map(Result::ok) {
        let Ok(path) = fs::read_link(fd.path()) else {
            continue;
        };
        if let Some(session_id) = rollout_id(&path)
            && !held.iter().any(|r| r.session_id == session_id)
        {
            held.push(Rollout { session_id, path });
        }
    }
    held
}

/// The session id in a rollout file's name (`rollout-<ts>-<uuid>.jsonl`).
#[must_use]
pub fn rollout_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_prefix("rollout-")?.strip_suffix(".jsonl")?;
    let split = stem.len().checked_sub(36)?;
    let (ts, id) = stem.split_at_checked(split)?;
    let ts = ts.strip_suffix('-')?;
    (!ts.is_empty() && is_uuid(id)).then(|| id.to_owned())
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How much of a rollout's end is read for its last turn event.
const TAIL: u64 = 64 * 1024;

/// The phase the rollout's last turn event says: a turn started and not over (working), or
/// over (completed or aborted: waiting for a prompt). `None` when the end of the file says
/// neither.
#[must_use]
pub fn turn_phase(path: &Path) -> Option<Phase> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut tail = Vec::new();
    file.take(TAIL).read_to_end(&mut tail).ok()?;
    last_turn_phase(&String::from_utf8_lossy(&tail))
}

/// The phase the last turn event among `lines` says.
fn last_turn_phase(lines: &str) -> Option<Phase> {
    lines.lines().rev().find_map(|line| {
        let kind = ["task_started", "task_complete", "turn_aborted"]
            .into_iter()
            .find(|k| line.contains(k))?;
        let entry: serde_json::Value = serde_json::from_str(line).ok()?;
        if entry["type"] != "event_msg" || entry["payload"]["type"] != kind {
            return None;
        }
        Some(if kind == "task_started" {
            Phase::Working
        } else {
            Phase::Waiting
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/codex")
            .join(name);
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn the_session_id_is_read_from_the_rollout_name() {
        let recorded = "/home/dev/.codex/sessions/2026/11/25/\
                        rollout-2026-11-25T09-13-24-01a211fb-32cc-7cc3-a66b-c24e4f12f8ba.jsonl";
        assert_eq!(
            rollout_id(Path::new(recorded)).as_deref(),
            Some("01a211fb-32cc-7cc3-a66b-c24e4f12f8ba")
        );
        for other in [
            "/tmp/rollout-01a211fb-32cc-7cc3-a66b-c24e4f12f8ba.jsonl",
            "/tmp/rollout-2026-11-25T09-13-24-01a211fb-32cc-7cc3-a66b-c24e4f12f8ba.jsonl (deleted)",
            "/tmp/rollout-2026-11-25T09-13-24-01a211fb-32cc-7cc3-a66b-c24e4f12f8bz.jsonl",
            "/tmp/rollout-2026-11-25T09-13-24-01a211fb32cc-7cc3-a66b-c24e4f12f8ba0.jsonl",
            "/tmp/history.jsonl",
            "/dev/null",
        ] {
            assert_eq!(rollout_id(Path::new(other)), None, "{other}");
        }
    }

    #[test]
    fn the_last_turn_event_of_a_recorded_rollout_gives_the_phase() {
        // A completed `codex exec`, and a turn interrupted with Esc: both wait for a prompt.
        for name in [
            "exec-tool.transcript.jsonl",
            "tui-esc-busy.transcript.jsonl",
        ] {
            assert_eq!(
                last_turn_phase(&fixture(name)),
                Some(Phase::Waiting),
                "{name}"
            );
        }
        // Cut right after the turn started: it runs.
        let text = fixture("exec-tool.transcript.jsonl");
        let started = text
            .lines()
            .position(|l| l.contains("\"task_started\""))
            .unwrap();
        let cut: Vec<&str> = text.lines().take(started + 3).collect();
        assert_eq!(last_turn_phase(&cut.join("\n")), Some(Phase::Working));
        // Before any turn, nothing is known.
        let meta: Vec<&str> = text.lines().take(started).collect();
        assert_eq!(last_turn_phase(&meta.join("\n")), None);
    }
}
