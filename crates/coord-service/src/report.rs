//! `coord report`: what the fleet did over a window, per session and in all, from the whole
//! event log and the phases the stored sessions are in now ([`coord_core::history`]).

use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::Timestamp;
use coord_core::history::{SessionHistory, histories};

use crate::{Result, Service};

/// Events read per round trip to the store.
const PAGE: usize = 10_000;

/// What the fleet did within `[since, now]`.
#[derive(Clone, Debug)]
pub struct FleetHistory {
    /// When the window opens.
    pub since: Timestamp,
    /// When it closes: the store's clock when the report was made.
    pub now: Timestamp,
    /// Each session's history, by id.
    pub sessions: BTreeMap<String, SessionHistory>,
    /// The sum of them.
    pub fleet: SessionHistory,
    /// How many events the log holds.
    pub events: usize,
    /// When the oldest event the log still holds happened, if older ones are gone (it keeps a
    /// bounded number): what the report cannot know before then.
    pub trimmed_before: Option<Timestamp>,
}

impl Service {
    /// What the fleet did over the last `window`.
    pub fn fleet_history(&self, window: Duration) -> Result<FleetHistory> {
        let now = self.now()?;
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let page = self.events(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            events.extend(page);
        }
        let current: BTreeMap<String, String> = self
            .store()
            .sessions()?
            .into_iter()
            .map(|s| (s.id.clone(), s.phase.name().to_owned()))
            .collect();
        let since = now.minus(window);
        let sessions = histories(&events, &current, since, now);
        let mut fleet = SessionHistory::default();
        for h in sessions.values() {
            fleet.add(h);
        }
        Ok(FleetHistory {
            since,
            now,
            sessions,
            fleet,
            events: events.len(),
            trimmed_before: events.first().filter(|e| e.seq > 1).map(|e| e.at),
        })
    }
}
