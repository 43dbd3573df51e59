//! The embedded store's clock: the host's, or one that tests move by hand.
//!
//! Time is a parameter everywhere in coord; this is where the embedded store gets it. A manual
//! clock lets a test play hours of a fleet's life (a holder dies, a laptop sleeps, a leader is
//! lost) step by step, deterministically, against the real store. The Redis backend always
//! reads the server's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coord_core::Timestamp;

/// Where the embedded store reads the time.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The host's clock.
    #[default]
    Host,
    /// A clock that only moves when told to (shared by every handle made from one clone).
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock that reads `at` until moved.
    #[must_use]
    pub fn manual(at: Timestamp) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(at.as_millis())))
    }

    /// The time.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::Host => {
                let since_epoch = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                Timestamp::from_millis(coord_core::time::millis(since_epoch))
            }
            Clock::Manual(ms) => Timestamp::from_millis(ms.load(Ordering::SeqCst)),
        }
    }

    /// Moves a manual clock forward by `d`; the host's clock is not ours to move.
    pub fn advance(&self, d: Duration) {
        if let Clock::Manual(ms) = self {
            ms.fetch_add(coord_core::time::millis(d), Ordering::SeqCst);
        }
    }
}
