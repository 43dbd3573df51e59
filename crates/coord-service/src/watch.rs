//! The sidecar's loop (`coord watch`, `coord run`): hold a session's process, renew the
//! session while it lives, record its end the moment it comes.
//!
//! coord never kills anything: a watcher only reports. A store that cannot be reached while the
//! process lives costs a renewal, not the watcher: it tries again at the next interval.

use std::time::Duration;

use coord_core::{Beat, ExitStatus, Source};

use crate::observe::log_mtime;
use crate::process::{Held, HoldMode};
use crate::{Result, Service};

/// How many times the end of a process is written before the watcher gives up.
const EXIT_WRITE_TRIES: u32 = 20;

/// Why a watch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// The process ended, and its end was recorded.
    Exited(ExitStatus),
    /// The session no longer takes signals (it ended, was evicted, or another incarnation
    /// took its id): nothing left to watch.
    SessionGone,
}

impl Service {
    /// Watches incarnation `incarnation` of session `id`, whose process is `held`: renews it
    /// every `interval` (with the modification time of `log`, if given) until the process
    /// ends or the session goes.
    pub fn watch(
        &self,
        id: &str,
        incarnation: u64,
        held: &Held,
        interval: Duration,
        log: Option<&str>,
    ) -> Result<WatchEnd> {
        let source = watcher_source(held.mode());
        loop {
            // A store that cannot be reached costs this renewal only.
            if let Ok(false) = self.watch_renew(id, incarnation, source, log) {
                return Ok(WatchEnd::SessionGone);
            }
            if let Some(status) = held.wait(interval) {
                self.watch_exit(id, incarnation, status, source)?;
                return Ok(WatchEnd::Exited(status));
            }
        }
    }

    /// One renewal by a watcher: the process lives. False when the session no longer takes
    /// signals from this incarnation, so there is nothing left to watch.
    pub fn watch_renew(
        &self,
        id: &str,
        incarnation: u64,
        source: Source,
        log: Option<&str>,
    ) -> Result<bool> {
        let beat = Beat {
            log_mtime: log.and_then(log_mtime),
            ..Beat::alive(source, self.store.now()?)
        };
        Ok(self
            .store
            .heartbeat(id, &beat)?
            .is_some_and(|s| s.incarnation == incarnation))
    }

    /// Records the end of the process a watcher held, trying again for a while if the store
    /// does not answer.
    pub fn watch_exit(
        &self,
        id: &str,
        incarnation: u64,
        status: ExitStatus,
        source: Source,
    ) -> Result<()> {
        let mut tries = 0;
        loop {
            match self.store.record_exit(id, incarnation, status, source) {
                Ok(_) => return Ok(()),
                Err(e) if tries + 1 >= EXIT_WRITE_TRIES => return Err(e.into()),
                Err(_) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// The source a watcher's signals carry: `watch` with a pidfd, `poll` without (so `coord show`
/// says how the process is held).
#[must_use]
pub fn watcher_source(mode: HoldMode) -> Source {
    match mode {
        HoldMode::Pidfd => Source::Watch,
        HoldMode::Polling => Source::Poll,
    }
}
