//! [`Notifier`]: which changes of state are worth telling a person, decided from the verdicts
//! of each round. Pure: the time is passed in, nothing is sent here.
//!
//! - A change must hold for `notify_after` before it counts (it *settles*): a state that flaps
//!   settles never, and is never sent.
//! - A settled change is sent once per matching rule: at most one notification per session per
//!   change.
//! - Each rule sends at most [`RATE_LIMIT`] notifications per [`RATE_WINDOW`]; the rest are
//!   handed back as dropped.
//! - The first round only learns the states already there (a watcher that restarts does not
//!   tell again what it told before); a session that first appears later is told from its
//!   first settled state on.
//! - A session missing from a round is forgotten.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use coord_core::{Session, State, Timestamp, Verdict};

use crate::config::{Config, Rule};
use crate::event::{Event, Trigger};

/// How many notifications a rule sends per [`RATE_WINDOW`] at most.
pub const RATE_LIMIT: usize = 10;

/// The window of [`RATE_LIMIT`].
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// An event for one rule's channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The rule, as an index into the config's rules.
    pub rule: usize,
    /// What to send.
    pub event: Event,
}

/// What one round decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// What to send.
    pub send: Vec<Notification>,
    /// What the rate limit dropped.
    pub limited: Vec<Notification>,
}

/// What the notifier remembers of one session.
#[derive(Clone, Copy, Debug)]
struct Tracked {
    /// The state it last settled in (held for `notify_after`), if any yet.
    settled: Option<State>,
    /// The state of the latest round.
    seen: State,
    /// The round when `seen` was first seen.
    seen_since: Timestamp,
}

/// Decides, round after round, which changes of state to send to which rule.
#[derive(Clone, Debug)]
pub struct Notifier {
    rules: Vec<Rule>,
    notify_after: Duration,
    sessions: BTreeMap<String, Tracked>,
    started: bool,
    /// Per rule, when its notifications within the rate window were sent.
    sent: Vec<VecDeque<Timestamp>>,
}

impl Notifier {
    /// A notifier for the rules of `config`, which has seen no round yet.
    #[must_use]
    pub fn new(config: &Config) -> Self {
        Self {
            rules: config.rules.clone(),
            notify_after: config.notify_after,
            sessions: BTreeMap::new(),
            started: false,
            sent: vec![VecDeque::new(); config.rules.len()],
        }
    }

    /// One round at `now` over every session watched, each with its verdict: what to send.
    pub fn round<'a>(
        &mut self,
        now: Timestamp,
        sessions: impl IntoIterator<Item = (&'a Session, &'a Verdict)>,
    ) -> Round {
        let first = !self.started;
        self.started = true;
        let mut round = Round::default();
        let mut present = BTreeMap::new();
        for (session, verdict) in sessions {
            let state = verdict.state;
            let tracked = present.entry(session.id.clone()).or_insert_with(|| {
                let mut t = self.sessions.remove(&session.id).unwrap_or(Tracked {
                    settled: first.then_some(state),
                    seen: state,
                    seen_since: now,
                });
                if t.seen != state {
                    t.seen = state;
                    t.seen_since = now;
                }
                t
            });
            if tracked.settled == Some(state) || now.since(tracked.seen_since) < self.notify_after {
                continue;
            }
            let previous = tracked.settled.replace(state);
            let Some(trigger) = Trigger::of(previous, state) else {
                continue;
            };
            for (rule, r) in self.rules.iter().enumerate() {
                if !r.matches(trigger, session) {
                    continue;
                }
                let n = Notification {
                    rule,
                    event: Event::new(session, verdict, trigger, previous),
                };
                let window = &mut self.sent[rule];
                while window.front().is_some_and(|t| now.since(*t) >= RATE_WINDOW) {
                    window.pop_front();
                }
                if window.len() < RATE_LIMIT {
                    window.push_back(now);
                    round.send.push(n);
                } else {
                    round.limited.push(n);
                }
            }
        }
        self.sessions = present;
        round
    }

    /// When the next change seen so far settles, if one is waiting to.
    #[must_use]
    pub fn next_due(&self) -> Option<Timestamp> {
        self.sessions
            .values()
            .filter(|t| t.settled != Some(t.seen))
            .map(|t| t.seen_since.plus(self.notify_after))
            .min()
    }
}

#[cfg(test)]
mod tests;
