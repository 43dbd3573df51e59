//! What each rule's channel did: sent, failed, dropped, the last error and when. The watcher
//! keeps them in a status file (JSON, replaced whole on each change) that `coord doctor` reads.

use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use coord_core::Timestamp;
use serde::{Deserialize, Serialize};

/// The counters of one rule's channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// The channel, described ([`crate::Channel::describe`]).
    pub channel: String,
    /// Notifications delivered.
    pub sent: u64,
    /// Attempts that failed (each retry counts).
    pub failed: u64,
    /// Notifications never delivered: the rate limit, a full queue, or every try failed.
    pub dropped: u64,
    /// When one was last delivered.
    pub last_sent: Option<Timestamp>,
    /// The last failure.
    pub last_error: Option<LastError>,
}

/// A failed attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// When.
    pub at: Timestamp,
    /// Why.
    pub error: String,
}

impl ChannelStats {
    /// Whether its last attempt failed.
    #[must_use]
    pub fn failing(&self) -> bool {
        self.last_error
            .as_ref()
            .is_some_and(|e| self.last_sent.is_none_or(|sent| e.at >= sent))
    }
}

/// The status file's contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The watcher that writes it.
    pub pid: u32,
    /// When it was written.
    pub written_at: Timestamp,
    /// One entry per rule, in the config's order.
    pub channels: Vec<ChannelStats>,
}

impl Status {
    /// Writes the status to `path`: to a temporary file beside it, then renamed over it, so a
    /// reader sees the old or the new, whole.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temp = path.with_extension("json.tmp");
        std::fs::write(&temp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&temp, path)
    }

    /// Reads the status at `path`, if a watcher wrote one.
    pub fn read(path: &Path) -> io::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// This machine's clock now, as a timestamp (the counters are this host's own).
#[must_use]
pub fn wall_clock() -> Timestamp {
    Timestamp::from_millis(coord_core::time::millis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_file_is_written_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/notify.json");
        assert_eq!(Status::read(&path).unwrap(), None);
        let status = Status {
            pid: 7,
            written_at: Timestamp::from_millis(5),
            channels: vec![ChannelStats {
                channel: "desktop".to_owned(),
                sent: 1,
                failed: 2,
                dropped: 3,
                last_sent: Some(Timestamp::from_millis(1)),
                last_error: Some(LastError {
                    at: Timestamp::from_millis(2),
                    error: "HTTP 500".to_owned(),
                }),
            }],
        };
        status.write(&path).unwrap();
        assert_eq!(Status::read(&path).unwrap(), Some(status));
    }

    #[test]
    fn a_channel_fails_while_its_last_attempt_did() {
        let at = Timestamp::from_millis;
        let error = |ms| {
            Some(LastError {
                at: at(ms),
                error: "x".to_owned(),
            })
        };
        let stats = |last_sent, last_error| ChannelStats {
            last_sent,
            last_error,
            ..ChannelStats::default()
        };
        assert!(!stats(None, None).failing());
        assert!(stats(None, error(1)).failing());
        assert!(stats(Some(at(1)), error(2)).failing());
        assert!(!stats(Some(at(3)), error(2)).failing());
    }
}
