//! What a coord command on a session's own host can see for itself, and records.
//!
//! Before it judges a session, a command running where the session runs looks its process up
//! (and records an exit or a proof of life) and reads its log's modification time. This is how
//! a session with no watcher still gets exact death detection: any `coord ps` on its host finds
//! the PID gone or reused. When the log (an agent's transcript) has grown since it was last
//! looked at, its end is read for an API error, which no hook reports under `-p`.

use std::fs;
use std::time::{Duration, UNIX_EPOCH};

use coord_core::{
    Beat, BeatKind, ExitStatus, Phase, ProcessFact, Session, Source, Timestamp, transcript,
};

use crate::host::Liveness;
use crate::{Result, Service};

/// A proof of life is written at most this often per session (or three times per ttl, for a
/// session whose ttl is shorter); more would only cost writes.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// What an observation changed in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Nothing to record (another host's session, no PID, or recently renewed).
    Nothing,
    /// The process was running; its proof of life was recorded.
    Renewed,
    /// The process was gone; its exit was recorded.
    Exited,
}

impl Service {
    /// Observes `session` from this host at `now`, records what it finds, and updates the
    /// record in place (including the log's modification time, which is read, not stored).
    pub fn observe(&self, session: &mut Session, now: Timestamp) -> Result<Observed> {
        let mut grown = false;
        if session.host == self.host.name
            && let Some(mtime) = session.log_path.as_deref().and_then(log_mtime)
        {
            grown = session.log_mtime.is_none_or(|m| mtime > m);
            session.log_mtime = Some(session.log_mtime.map_or(mtime, |m| m.max(mtime)));
        }
        if session.phase == Phase::Ended || matches!(session.process, ProcessFact::Exited { .. }) {
            return Ok(Observed::Nothing);
        }
        match self.host.probe(session) {
            None => Ok(Observed::Nothing),
            Some(Liveness::Gone) => {
                let store = &self.store;
                store.record_exit(
                    &session.id,
                    session.incarnation,
                    ExitStatus::Gone,
                    Source::Probe,
                )?;
                session.exited(ExitStatus::Gone, Source::Probe, now);
                Ok(Observed::Exited)
            }
            Some(Liveness::Running) => {
                if grown && self.read_api_error(session)? {
                    return Ok(Observed::Renewed);
                }
                let every = RENEW_EVERY.min(self.policy.with(&session.policy).ttl / 3);
                let fresh = match session.process {
                    ProcessFact::Alive { checked_at } => now.since(checked_at) < every,
                    _ => false,
                };
                if fresh {
                    return Ok(Observed::Nothing);
                }
                let beat = Beat {
                    log_mtime: session.log_mtime,
                    ..Beat::alive(Source::Probe, now)
                };
                match self.store.heartbeat(&session.id, &beat)? {
                    Some(updated) => {
                        let log_mtime = session.log_mtime;
                        *session = updated;
                        session.log_mtime = log_mtime;
                        Ok(Observed::Renewed)
                    }
                    None => Ok(Observed::Nothing),
                }
            }
        }
    }
}

impl Service {
    /// Reads the end of a session's transcript, which changed since it was last looked at, and
    /// records the API error it ends with as `limited` (no hook reports one under `-p`). True
    /// when it recorded one; the record is updated in place.
    fn read_api_error(&self, session: &mut Session) -> Result<bool> {
        let Some(tail) = session.log_path.as_deref().and_then(read_tail) else {
            return Ok(false);
        };
        let Some(error) = transcript::ends_in_api_error(&tail) else {
            return Ok(false);
        };
        if matches!(&session.phase, Phase::Limited { why } if *why == error.why) {
            return Ok(false);
        }
        let beat = Beat {
            kind: BeatKind::Signal,
            phase: Some(Phase::Limited { why: error.why }),
            log_mtime: session.log_mtime,
            ..Beat::activity(Source::Probe, error.at)
        };
        let log_mtime = session.log_mtime;
        match self.store.heartbeat(&session.id, &beat)? {
            Some(updated) => {
                *session = updated;
                session.log_mtime = log_mtime;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// How much of a transcript's end is read: the last entries, never the whole file.
const TAIL_BYTES: u64 = 64 * 1024;

/// The last [`TAIL_BYTES`] of the file at `path`, as text.
fn read_tail(path: &str) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
        .ok()?;
    let mut bytes = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

pub(crate) fn log_mtime(path: &str) -> Option<Timestamp> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    let since_epoch = modified.duration_since(UNIX_EPOCH).ok()?;
    Some(Timestamp::from_millis(coord_core::time::millis(
        since_epoch,
    )))
}
