//! [`Sender`]: sending off the caller's thread. One background thread takes notifications from
//! a bounded queue and sends each through its rule's channel; a failed attempt is tried again
//! later with a growing delay ([`Backoff`]), while the other notifications go on. The caller
//! never waits: a full queue drops the notification and counts it.
//!
//! The counters ([`ChannelStats`]) are the caller's to read at any time; with a status path,
//! the thread also writes them there after each change, for `coord doctor`.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::channels::Channel;
use crate::notifier::Notification;
use crate::stats::{ChannelStats, LastError, Status, wall_clock};

/// When a failed attempt is tried again: after `first`, then twice as long each time (at most
/// `cap`), `tries` attempts in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub tries: u32,
}

impl Backoff {
    /// Waits of 1 s, 2 s and 4 s: four attempts over about 7 s.
    pub const DEFAULT: Backoff = Backoff {
        first: Duration::from_secs(1),
        cap: Duration::from_secs(30),
        tries: 4,
    };

    /// The wait after failed attempt number `attempt` (from 1).
    #[must_use]
    pub fn after(&self, attempt: u32) -> Duration {
        self.first
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.cap)
    }
}

/// How a sender runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many notifications may wait to be sent.
    pub queue: usize,
    /// When failures are tried again.
    pub backoff: Backoff,
    /// Where to keep the counters for `coord doctor`, if anywhere.
    pub status: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            queue: 64,
            backoff: Backoff::DEFAULT,
            status: None,
        }
    }
}

/// What the thread is told.
enum Message {
    /// Send this.
    Send(Notification),
    /// The counters changed (a drop counted by the caller): write them.
    Counted,
}

/// The handle on the sending thread. Dropping it stops the thread (retries still waiting are
/// given up).
pub struct Sender {
    queue: SyncSender<Message>,
    stats: Arc<Mutex<Vec<ChannelStats>>>,
}

impl Sender {
    /// Starts the thread that sends through `channels` (one per rule, in the rules' order).
    pub fn start(channels: Vec<Channel>, options: Options) -> std::io::Result<Self> {
        let stats = Arc::new(Mutex::new(
            channels
                .iter()
                .map(|c| ChannelStats {
                    channel: c.describe(),
                    ..ChannelStats::default()
                })
                .collect(),
        ));
        let (queue, inbox) = mpsc::sync_channel(options.queue);
        let worker = Worker {
            channels,
            stats: Arc::clone(&stats),
            backoff: options.backoff,
            status: options.status,
            waiting: Vec::new(),
        };
        thread::Builder::new()
            .name("notify".to_owned())
            .spawn(move || worker.run(&inbox))?;
        Ok(Self { queue, stats })
    }

    /// Hands `n` to the thread; a full queue drops it (counted).
    pub fn send(&self, n: Notification) {
        let rule = n.rule;
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.queue.try_send(Message::Send(n))
        {
            self.dropped(rule);
        }
    }

    /// Counts a notification of `rule` dropped before the queue (by the rate limit).
    pub fn dropped(&self, rule: usize) {
        update(&self.stats, rule, |s| s.dropped += 1);
        // When the queue is full the thread is busy, and writes the counters soon anyway.
        let _ = self.queue.try_send(Message::Counted);
    }

    /// The counters now, one per rule.
    #[must_use]
    pub fn stats(&self) -> Vec<ChannelStats> {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Changes the counters of `rule`.
fn update(stats: &Mutex<Vec<ChannelStats>>, rule: usize, change: impl FnOnce(&mut ChannelStats)) {
    if let Some(s) = stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_mut(rule)
    {
        change(s);
    }
}

/// A notification to try again.
struct Retry {
    n: Notification,
    /// Attempts made so far.
    attempts: u32,
    due: Instant,
}

/// The sending thread's state.
struct Worker {
    channels: Vec<Channel>,
    stats: Arc<Mutex<Vec<ChannelStats>>>,
    backoff: Backoff,
    status: Option<PathBuf>,
    waiting: Vec<Retry>,
}

impl Worker {
    /// Sends until the handle is dropped.
    fn run(mut self, inbox: &Receiver<Message>) {
        self.write_status();
        loop {
            let next = self.waiting.iter().map(|r| r.due).min();
            let message = match next {
                Some(due) => inbox.recv_timeout(due.saturating_duration_since(Instant::now())),
                None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match message {
                Ok(Message::Send(n)) => self.attempt(n, 0),
                Ok(Message::Counted) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            let (due, later) = std::mem::take(&mut self.waiting)
                .into_iter()
                .partition::<Vec<_>, _>(|r| r.due <= now);
            self.waiting = later;
            for r in due {
                self.attempt(r.n, r.attempts);
            }
            self.write_status();
        }
    }

    /// One attempt at `n`, after `attempts` failed ones: counted, and kept for later if it
    /// failed and has tries left.
    fn attempt(&mut self, n: Notification, attempts: u32) {
        let Some(channel) = self.channels.get(n.rule) else {
            return;
        };
        let result = channel.send(&n.event);
        let at = wall_clock();
        let attempts = attempts + 1;
        let retry = result.is_err() && attempts < self.backoff.tries;
        update(&self.stats, n.rule, |s| match result {
            Ok(()) => {
                s.sent += 1;
                s.last_sent = Some(at);
            }
            Err(e) => {
                s.failed += 1;
                s.last_error = Some(LastError { at, error: e.0 });
                if !retry {
                    s.dropped += 1;
                }
            }
        });
        if retry {
            self.waiting.push(Retry {
                n,
                attempts,
                due: Instant::now() + self.backoff.after(attempts),
            });
        }
    }

    /// Writes the counters to the status file, if there is one (a failure costs the file
    /// only).
    fn write_status(&self) {
        if let Some(path) = &self.status {
            let status = Status {
                pid: std::process::id(),
                written_at: wall_clock(),
                channels: self
                    .stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            };
            let _ = status.write(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use coord_core::Timestamp;

    use super::*;
    use crate::event::Event;

    fn note(rule: usize) -> Notification {
        Notification {
            rule,
            event: Event::sample("h", Timestamp::from_millis(0)),
        }
    }

    fn exec(command: String) -> Channel {
        Channel::Exec { command }
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    const QUICK: Backoff = Backoff {
        first: Duration::from_millis(50),
        cap: Duration::from_millis(100),
        tries: 3,
    };

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let waits: Vec<_> = (1..=6)
            .map(|a| Backoff::DEFAULT.after(a).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30]);
    }

    #[test]
    fn a_failure_is_tried_again_while_the_others_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("second-time");
        // Fails the first time, works the second.
        let flaky = format!(
            "[ -e '{0}' ] || {{ touch '{0}'; echo not yet >&2; exit 1; }}",
            flag.display()
        );
        let status = dir.path().join("status.json");
        let sender = Sender::start(
            vec![
                exec(flaky),
                exec("true".to_owned()),
                exec("exit 2".to_owned()),
            ],
            Options {
                backoff: QUICK,
                status: Some(status.clone()),
                ..Options::default()
            },
        )
        .unwrap();
        for rule in 0..3 {
            sender.send(note(rule));
        }
        wait_for("every attempt is made", || {
            let s = sender.stats();
            s[0].sent == 1 && s[1].sent == 1 && s[2].dropped == 1
        });
        let s = sender.stats();
        assert_eq!((s[0].failed, s[0].dropped), (1, 0));
        assert_eq!(
            s[0].last_error.as_ref().unwrap().error,
            "exit status: 1: not yet"
        );
        assert!(!s[0].failing());
        assert_eq!((s[2].sent, s[2].failed), (0, 3), "three tries in all");
        assert!(s[2].failing());
        wait_for("the status file has the counters", || {
            Status::read(&status)
                .ok()
                .flatten()
                .is_some_and(|st| st.channels == sender.stats())
        });
    }

    #[test]
    fn a_full_queue_drops_without_waiting() {
        let sender = Sender::start(
            vec![exec("sleep 0.3".to_owned())],
            Options {
                queue: 2,
                ..Options::default()
            },
        )
        .unwrap();
        let started = Instant::now();
        for _ in 0..10 {
            sender.send(note(0));
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "send never waits"
        );
        // One in flight at most, two queued: the rest are dropped.
        let dropped = sender.stats()[0].dropped;
        assert!((7..=8).contains(&dropped), "{dropped} dropped");
        sender.dropped(0);
        assert_eq!(sender.stats()[0].dropped, dropped + 1);
    }
}
