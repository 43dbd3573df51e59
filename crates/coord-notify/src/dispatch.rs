//! [`Dispatcher`]: what the per-host watcher holds. Each round's verdicts go to the
//! [`Notifier`], what it decides goes to the [`Sender`]'s thread, and what the rate limit
//! dropped is counted; the round itself never waits for a channel.

use coord_core::{Session, Timestamp, Verdict};

use crate::config::Config;
use crate::notifier::Notifier;
use crate::sender::{Options, Sender};
use crate::stats::ChannelStats;

/// The notifier and its sender, for the rules of one config.
pub struct Dispatcher {
    notifier: Notifier,
    sender: Sender,
}

impl Dispatcher {
    /// Starts sending for the rules of `config`.
    pub fn start(config: &Config, options: Options) -> std::io::Result<Self> {
        let channels = config.rules.iter().map(|r| r.channel.clone()).collect();
        Ok(Self {
            notifier: Notifier::new(config),
            sender: Sender::start(channels, options)?,
        })
    }

    /// One round at `now`: hands what is to be sent to the sending thread.
    pub fn round<'a>(
        &mut self,
        now: Timestamp,
        sessions: impl IntoIterator<Item = (&'a Session, &'a Verdict)>,
    ) {
        let round = self.notifier.round(now, sessions);
        for n in round.send {
            self.sender.send(n);
        }
        for n in round.limited {
            self.sender.dropped(n.rule);
        }
    }

    /// When a change seen so far settles (the caller's next round should come by then).
    #[must_use]
    pub fn next_due(&self) -> Option<Timestamp> {
        self.notifier.next_due()
    }

    /// The counters of each rule's channel.
    #[must_use]
    pub fn stats(&self) -> Vec<ChannelStats> {
        self.sender.stats()
    }
}
