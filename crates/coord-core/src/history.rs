//! What the event log says each session did over a window of time: how long it spent in each
//! phase it reported, how often it entered each, and its exits. `coord report` prints it.
//!
//! Built from the log alone: a registration, a phase change, an exit, an end, an eviction. A
//! silence (a session judged stale or unknown) is judged when it happens and not logged, so it
//! is not here: the times are what the sessions reported, not verdicts.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::event::{Event, EventKind};
use crate::time::Timestamp;

/// The name under which a span before any reported phase is counted: a registration whose
/// phase the log does not say, until its first phase change says what it left.
pub const UNREPORTED: &str = "unreported";

/// What one session did within the window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionHistory {
    /// The time spent in each phase, by its name (`working`, `blocked`…).
    pub time: BTreeMap<String, Duration>,
    /// How many times it entered each phase within the window.
    pub entered: BTreeMap<String, u64>,
    /// How many times each change of phase happened, by (from, to).
    pub transitions: BTreeMap<(String, String), u64>,
    /// How many times its process was seen to exit.
    pub exits: u64,
}

impl SessionHistory {
    /// Adds `other` to this one: the fleet's total is the sum of its sessions'.
    pub fn add(&mut self, other: &SessionHistory) {
        for (name, d) in &other.time {
            *self.time.entry(name.clone()).or_default() += *d;
        }
        for (name, n) in &other.entered {
            *self.entered.entry(name.clone()).or_default() += n;
        }
        for (pair, n) in &other.transitions {
            *self.transitions.entry(pair.clone()).or_default() += n;
        }
        self.exits += other.exits;
    }
}

/// Where a session's phase stands while the log is read.
struct Open {
    phase: String,
    since: Timestamp,
}

/// Each session's history within `[since, now]`, from `events` in the log's order (the whole
/// log, so that the phase a session was in when the window opened is known). `current` gives
/// the phase each session that is still stored is in now: a session whose log shows no change
/// of phase since it registered has spent the time since in that one.
#[must_use]
pub fn histories(
    events: &[Event],
    current: &BTreeMap<String, String>,
    since: Timestamp,
    now: Timestamp,
) -> BTreeMap<String, SessionHistory> {
    let mut open: BTreeMap<String, Open> = BTreeMap::new();
    let mut out: BTreeMap<String, SessionHistory> = BTreeMap::new();
    // Time from `from` to `to`, clipped to the window, goes to `phase`.
    let spend = |h: &mut SessionHistory, phase: &str, from: Timestamp, to: Timestamp| {
        let (from, to) = (from.max(since), to.min(now));
        if to > from {
            *h.time.entry(phase.to_owned()).or_default() += to.since(from);
        }
    };
    for e in events {
        if e.at > now {
            continue;
        }
        let id = &e.session;
        let within = e.at >= since;
        match &e.kind {
            EventKind::Registered { .. } => {
                if let Some(was) = open.remove(id) {
                    let h = out.entry(id.clone()).or_default();
                    spend(h, &was.phase, was.since, e.at);
                }
                open.insert(
                    id.clone(),
                    Open {
                        phase: UNREPORTED.to_owned(),
                        since: e.at,
                    },
                );
            }
            EventKind::Phase { from, to } => {
                let h = out.entry(id.clone()).or_default();
                let was = open.remove(id).unwrap_or(Open {
                    phase: from.clone(),
                    since: e.at,
                });
                // A registration's phase is the one its first change left.
                let phase = if was.phase == UNREPORTED {
                    from
                } else {
                    &was.phase
                };
                spend(h, phase, was.since, e.at);
                if within {
                    *h.entered.entry(to.clone()).or_default() += 1;
                    *h.transitions.entry((from.clone(), to.clone())).or_default() += 1;
                }
                open.insert(
                    id.clone(),
                    Open {
                        phase: to.clone(),
                        since: e.at,
                    },
                );
            }
            EventKind::Exited { .. } => {
                if within {
                    out.entry(id.clone()).or_default().exits += 1;
                }
            }
            EventKind::Evicted { .. } => {
                if let Some(was) = open.remove(id) {
                    let h = out.entry(id.clone()).or_default();
                    spend(h, &was.phase, was.since, e.at);
                }
            }
            EventKind::Ended
            | EventKind::Claimed { .. }
            | EventKind::Leader { .. }
            | EventKind::Unclaimed { .. }
            | EventKind::Host { .. } => {}
        }
    }
    for (id, was) in open {
        let phase = match current.get(&id) {
            Some(now_in) if was.phase == UNREPORTED => now_in.clone(),
            _ => was.phase,
        };
        spend(out.entry(id).or_default(), &phase, was.since, now);
    }
    out.retain(|_, h| !h.time.is_empty() || h.exits > 0 || !h.entered.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{ExitStatus, Runtime};

    fn at(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    fn event(seq: u64, s: i64, id: &str, kind: EventKind) -> Event {
        Event {
            seq,
            at: at(s),
            session: id.into(),
            incarnation: 1,
            kind,
        }
    }

    fn registered(seq: u64, s: i64, id: &str) -> Event {
        let kind = EventKind::Registered {
            runtime: Runtime::Claude,
            location: "h".into(),
        };
        event(seq, s, id, kind)
    }

    fn phase(seq: u64, s: i64, id: &str, from: &str, to: &str) -> Event {
        let kind = EventKind::Phase {
            from: from.into(),
            to: to.into(),
        };
        event(seq, s, id, kind)
    }

    fn secs(h: &SessionHistory, name: &str) -> u64 {
        h.time.get(name).map_or(0, Duration::as_secs)
    }

    #[test]
    fn each_phase_gets_the_time_until_the_next_change_and_the_last_until_now() {
        let log = [
            registered(1, 0, "s1"),
            phase(2, 10, "s1", "working", "blocked"),
            phase(3, 70, "s1", "blocked", "working"),
            phase(4, 100, "s1", "working", "blocked"),
        ];
        let all = histories(&log, &BTreeMap::new(), at(0), at(130));
        let h = &all["s1"];
        assert_eq!(secs(h, "working"), 10 + 30);
        assert_eq!(secs(h, "blocked"), 60 + 30);
        assert_eq!(h.entered["blocked"], 2);
        assert_eq!(h.transitions[&("blocked".into(), "working".into())], 1);
    }

    #[test]
    fn the_window_clips_the_time_and_counts_only_what_happened_in_it() {
        let log = [
            registered(1, 0, "s1"),
            phase(2, 10, "s1", "working", "blocked"),
            phase(3, 70, "s1", "blocked", "waiting"),
        ];
        let h = &histories(&log, &BTreeMap::new(), at(40), at(100))["s1"];
        assert_eq!(secs(h, "blocked"), 30, "from the window's start");
        assert_eq!(secs(h, "waiting"), 30);
        assert_eq!(secs(h, "working"), 0);
        assert_eq!(h.entered.get("blocked"), None, "entered before the window");
        assert_eq!(h.entered["waiting"], 1);
    }

    #[test]
    fn a_session_that_never_changed_phase_spent_its_time_in_the_one_it_is_in() {
        let log = [registered(1, 0, "s1")];
        let current = BTreeMap::from([("s1".to_owned(), "waiting".to_owned())]);
        assert_eq!(
            secs(&histories(&log, &current, at(0), at(50))["s1"], "waiting"),
            50
        );
        let gone = histories(&log, &BTreeMap::new(), at(0), at(50));
        assert_eq!(secs(&gone["s1"], UNREPORTED), 50);
    }

    #[test]
    fn an_eviction_ends_the_time_and_exits_are_counted() {
        let log = [
            registered(1, 0, "s1"),
            phase(2, 5, "s1", "working", "in-tool"),
            event(
                3,
                20,
                "s1",
                EventKind::Exited {
                    status: ExitStatus::Signal(9),
                },
            ),
            event(
                4,
                30,
                "s1",
                EventKind::Evicted {
                    reason: "dead".into(),
                },
            ),
        ];
        let h = &histories(&log, &BTreeMap::new(), at(0), at(100))["s1"];
        assert_eq!(secs(h, "in-tool"), 25);
        assert_eq!(h.exits, 1);
    }

    #[test]
    fn the_fleet_is_the_sum_of_its_sessions() {
        let log = [
            registered(1, 0, "a"),
            registered(2, 0, "b"),
            phase(3, 10, "a", "working", "blocked"),
            phase(4, 20, "b", "working", "blocked"),
        ];
        let mut fleet = SessionHistory::default();
        for h in histories(&log, &BTreeMap::new(), at(0), at(30)).values() {
            fleet.add(h);
        }
        assert_eq!(secs(&fleet, "blocked"), 20 + 10);
        assert_eq!(secs(&fleet, "working"), 10 + 20);
        assert_eq!(fleet.entered["blocked"], 2);
    }
}
