//! The queue of writers in front of the store's write lock: an exclusive `flock` on the
//! `-write` file beside the store, taken before `BEGIN IMMEDIATE` and let go after the commit.
//!
//! SQLite's own wait for its write lock is a poll: a waiter sleeps, looks again, and a
//! newcomer that looks while the lock is free takes it, however long others have waited, so
//! under 200 writers the unluckiest waited ten times as long as most. The kernel instead
//! queues the waiters of a `flock` and hands it on the moment it is let go, so writers go
//! through about in turn. SQLite's lock still makes every change safe; the queue only orders
//! who asks for it, and a writer that cannot open the file goes without it.
//!
//! The wait is bounded by the busy timeout: a lock nobody holds is taken at once; a held one
//! is waited for on a thread of its own, which, if the writer stopped waiting, lets the lock go
//! as soon as it gets it. What is left of the timeout goes to SQLite's own wait ([`BUSY`]),
//! for a writer outside the queue (a checkpoint).

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::{Result, StoreError};

/// The suffix of the file whose lock queues the writers.
const QUEUE_SUFFIX: &str = "-write";

/// The writers' queue of one store.
pub(super) struct Queue {
    path: PathBuf,
}

/// A writer's turn: the lock, held until dropped.
pub(super) struct Turn {
    _held: Option<File>,
}

impl Queue {
    /// The queue of the store at `store`.
    pub(super) fn new(store: &Path) -> Self {
        Self {
            path: super::sibling(store, QUEUE_SUFFIX),
        }
    }

    /// Waits for this writer's turn, at most `timeout` ([`StoreError::Busy`] past it). A turn
    /// without the lock when its file cannot be opened.
    pub(super) fn turn(&self, timeout: Duration) -> Result<Turn> {
        let Ok(file) = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.path)
        else {
            return Ok(Turn { _held: None });
        };
        match file.try_lock() {
            Ok(()) => return Ok(Turn { _held: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(_)) => return Ok(Turn { _held: None }),
        }
        let (give, take) = mpsc::sync_channel(1);
        let waiter = std::thread::Builder::new()
            .name("coord-write-queue".to_owned())
            .spawn(move || {
                // If the writer stopped waiting, the file is dropped here and the lock let go.
                let _ = give.send(file.lock().map(|()| file));
            });
        if waiter.is_err() {
            return Ok(Turn { _held: None });
        }
        let deadline = Instant::now() + timeout;
        match take.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(file)) => Ok(Turn { _held: Some(file) }),
            Ok(Err(_)) => Ok(Turn { _held: None }),
            Err(_) => Err(StoreError::Busy),
        }
    }
}

thread_local! {
    /// The wait for the write lock of this thread's current change: how long it may last, and
    /// when it began.
    pub(super) static BUSY: Cell<(Duration, Option<Instant>)> = const { Cell::new((Duration::ZERO, None)) };
}

/// Makes `conn` wait up to `timeout` for a lock another writer holds, looking again every
/// millisecond or few. SQLite's own busy handler sleeps longer and longer (up to 100 ms between
/// looks), so under many writers a waiter that has waited long is overtaken by newcomers and
/// starves past its timeout; short, bounded sleeps keep the wait close to first come, first
/// served (measured by the 200-writer load test in `tests/reliability_load.rs`).
pub(super) fn wait_when_busy(conn: &mut Connection, timeout: Duration) -> rusqlite::Result<()> {
    BUSY.set((timeout, None));
    conn.busy_handler(Some(busy))
}

/// SQLite's busy handler: true to try again after a short sleep, false to give up.
fn busy(attempt: i32) -> bool {
    let (limit, began) = BUSY.get();
    let now = Instant::now();
    let began = match began {
        Some(t) if attempt > 0 => t,
        _ => now,
    };
    BUSY.set((limit, Some(began)));
    if now.duration_since(began) >= limit {
        return false;
    }
    let step = u64::try_from(attempt).unwrap_or(0).min(8);
    std::thread::sleep(Duration::from_micros(500 + 500 * step));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether someone holds the queue's lock.
    fn held(queue: &Queue) -> bool {
        let file = File::open(&queue.path).unwrap();
        matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    }

    #[test]
    fn writers_take_turns_and_one_that_gave_up_leaves_the_lock_free() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::new(&dir.path().join("coord.db"));
        let first = queue.turn(Duration::from_secs(1)).unwrap();
        assert!(held(&queue));

        let start = Instant::now();
        let refused = queue.turn(Duration::from_millis(100));
        assert!(matches!(refused, Err(StoreError::Busy)), "the lock is held");
        assert!(start.elapsed() < Duration::from_secs(1));

        // A waiter gets the lock the moment the holder lets it go.
        let second = std::thread::scope(|scope| {
            let waiter = scope.spawn(|| queue.turn(Duration::from_secs(10)));
            std::thread::sleep(Duration::from_millis(50));
            drop(first);
            waiter.join().unwrap()
        });
        let second = second.unwrap();
        assert!(held(&queue));
        drop(second);

        // The one that gave up took the lock when it came free and let it go at once.
        let third = queue.turn(Duration::from_secs(1)).unwrap();
        assert!(held(&queue));
        drop(third);
        assert!(!held(&queue), "a turn lets the lock go when it ends");
    }
}
