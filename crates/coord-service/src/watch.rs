//! The sidecar's loop (`coord watch`, `coord run`): hold a session's process, renew the
//! session while it lives, record its end the moment it comes.
//!
//! coord never kills anything: a watcher only reports. A store that cannot be reached while the
//! process lives costs a renewal, not the watcher: it tries again at the next interval.

use std::time::Duration;

use coord_core::{Beat, ExitStatus, Source};

use crate::observe::log_mtime;
use crate::process::Held;
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
        loop {
            let now = self.store.now()?;
            let beat = Beat {
                log_mtime: log.and_then(log_mtime),
                ..Beat::alive(Source::Watch, now)
            };
            match self.store.heartbeat(id, &beat) {
                Ok(Some(s)) if s.incarnation == incarnation => {}
                Ok(_) => return Ok(WatchEnd::SessionGone),
                Err(_) => {}
            }
            if let Some(status) = held.wait(interval) {
                self.record_exit(id, incarnation, status)?;
                return Ok(WatchEnd::Exited(status));
            }
        }
    }

    fn record_exit(&self, id: &str, incarnation: u64, status: ExitStatus) -> Result<()> {
        let mut tries = 0;
        loop {
            match self
                .store
                .record_exit(id, incarnation, status, Source::Watch)
            {
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
