//! Hosts: what the store heard of each machine of a fleet, what a machine said of itself, and
//! [`Hosts::judge`], which tells a silent host from a lost one.
//!
//! A host is heard through its sessions and its watcher. A host silent for a while may be
//! asleep, cut off or gone; on its own silence coord cannot tell which. A host becomes `lost`
//! only with evidence: silent past `host_lost_after` while at least one other host of the
//! namespace was heard without a gap over that whole time. So an outage of the store, of the
//! network around the observer, or of the whole fleet at once loses nobody. A host that said
//! it sleeps waits `host_asleep_max` instead; one that said it shuts down is `down` at once.
//!
//! | state    | when |
//! |----------|------|
//! | `down`   | it said it shuts down, and has not been heard since |
//! | `asleep` | it said it sleeps, and has not been heard since (lost only past `host_asleep_max`) |
//! | `heard`  | heard within [`HOST_GAP`] (or within its limit, if shorter; or the observer runs there) |
//! | `lost`   | silent past its limit while another host was heard without a gap over it all |
//! | `silent` | anything else: nothing to judge by |

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::policy::Policy;
use crate::time::{Compact, Timestamp};

/// The longest silence of a whole host that still counts as being heard all along. A host
/// with a watcher is heard every few seconds; a longer silence of all its sessions at once is
/// an outage (of the host, the network or the store) as far as anyone can tell.
pub const HOST_GAP: Duration = Duration::from_secs(5 * 60);

/// The silence after which a store begins a host's gap-free time anew, for a namespace judged
/// with `policy`: [`HOST_GAP`], or half its `host_lost_after` where that is shorter. A fleet
/// that hands work on after 30 s of silence must see an outage of a minute as a gap, or the
/// first host heard after it would witness every other host lost; and a host frozen for less
/// than the limit but longer than its sessions' ttl must show its gap, or the first of its
/// sessions renewed after it would make the others look dead on a host still heard.
#[must_use]
pub fn recording_gap(policy: &Policy) -> Duration {
    HOST_GAP.min(policy.host_lost_after / 2)
}

/// How long after saying it sleeps or shuts down a host may still be heard (its last
/// heartbeats, the command itself) with its word still holding. Heard later than that, it is
/// awake again, whether or not it said so.
pub const NOTICE_SLACK: Duration = Duration::from_secs(30);

/// What the store knows of one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostHeard {
    /// The last time anything was heard from the host: any session or watcher there.
    pub last: Timestamp,
    /// Since when the host has been heard with no silence longer than [`HOST_GAP`]: after
    /// such a silence (the host asleep or cut off, the store down), its sessions had no way
    /// to be heard, so their silence counts from here.
    pub since: Timestamp,
    /// The longest silence of the host since `since`, each one no longer than the store's
    /// gap: a host frozen for that long looked heard all along, so a session's silence there
    /// is evidence of its death only beyond it.
    #[serde(
        default,
        rename = "pause_ms",
        with = "crate::time::ms",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub pause: Duration,
    /// What the host (or the sweep, of it) said last, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
}

impl HostHeard {
    /// A host heard at `last`, without a gap since `since`, that said nothing.
    #[must_use]
    pub const fn new(last: Timestamp, since: Timestamp) -> Self {
        Self {
            last,
            since,
            pause: Duration::ZERO,
            notice: None,
        }
    }

    /// The same, with `pause` as the longest silence since `since`.
    #[must_use]
    pub const fn paused(self, pause: Duration) -> Self {
        Self { pause, ..self }
    }

    /// Its notice, while it holds: the host has not been heard since, beyond [`NOTICE_SLACK`].
    #[must_use]
    pub fn standing_notice(&self) -> Option<Notice> {
        self.notice.filter(|n| self.last <= n.at.plus(NOTICE_SLACK))
    }
}

/// A word about a host, kept with it until it is heard again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// What was said.
    pub kind: NoticeKind,
    /// When.
    pub at: Timestamp,
}

/// What a host can say of itself, or the sweep of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// It goes to sleep (`coord host sleep`): not lost for up to `host_asleep_max`.
    Asleep,
    /// It shuts down (`coord host shutdown`): its sessions ended and their work went back.
    Down,
    /// The sweep found it lost and handed its work on; heard again, it has rejoined.
    Lost,
}

impl NoticeKind {
    /// The notice's name, as stored and shown.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Asleep => "asleep",
            NoticeKind::Down => "down",
            NoticeKind::Lost => "lost",
        }
    }
}

/// A host's state, as decided by [`Hosts::judge`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostState {
    /// Heard within [`HOST_GAP`] (or its limit, if shorter).
    Heard,
    /// Silent, with nothing to judge it by.
    Silent,
    /// It said it sleeps, and has been silent since.
    Asleep,
    /// It said it shuts down, and has been silent since.
    Down,
    /// Silent past its limit while other hosts were heard all along: gone.
    Lost,
}

impl HostState {
    /// The state's name as shown.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            HostState::Heard => "heard",
            HostState::Silent => "silent",
            HostState::Asleep => "asleep",
            HostState::Down => "down",
            HostState::Lost => "lost",
        }
    }
}

impl fmt::Display for HostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The outcome of [`Hosts::judge`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostVerdict {
    /// The state.
    pub state: HostState,
    /// Why, in a few words ("silent 35m while 3 hosts heard").
    pub reason: String,
    /// The other hosts heard without a gap over all of this host's silence (its evidence).
    pub witnesses: Vec<String>,
    /// Since when the state has held, as far as the store tells.
    pub since: Timestamp,
}

/// Every host of a namespace as the store knows it, and the one the judge runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosts {
    heard: BTreeMap<String, HostHeard>,
    here: Option<String>,
    /// The silence after which the store began a host's gap-free time anew
    /// ([`recording_gap`]): a shorter silence of a witness may have gone unseen.
    gap: Duration,
    /// Whether the observer's own host may witness: not for an observer beside the store.
    here_witnesses: bool,
}

impl Default for Hosts {
    fn default() -> Self {
        Self::new(BTreeMap::new(), None)
    }
}

impl Hosts {
    /// The hosts the store knows, judged from `here` (the observer's own host, heard now by
    /// the fact of the observer running there; `None` for an observer of the fleet only).
    #[must_use]
    pub fn new(heard: BTreeMap<String, HostHeard>, here: Option<String>) -> Self {
        Self {
            heard,
            here,
            gap: HOST_GAP,
            here_witnesses: true,
        }
    }

    /// The same hosts, judged by an observer that runs beside the store (`coord serve`): what
    /// its own host is heard through crosses no network, so it witnesses nothing of the others
    /// (every host cut off from the server is an outage of the server's network, not a fleet
    /// lost).
    #[must_use]
    pub fn beside_the_store(self) -> Self {
        Self {
            here_witnesses: false,
            ..self
        }
    }

    /// The same hosts, as a store that began a host's gap-free time anew after a silence of
    /// `gap` recorded them (the namespace's [`recording_gap`]).
    #[must_use]
    pub fn recorded_with_gap(self, gap: Duration) -> Self {
        Self { gap, ..self }
    }

    /// One host alone, as a judge elsewhere sees it.
    #[must_use]
    pub fn only(name: &str, heard: Option<HostHeard>) -> Self {
        Self {
            heard: heard.into_iter().map(|h| (name.to_owned(), h)).collect(),
            here: None,
            gap: HOST_GAP,
            here_witnesses: true,
        }
    }

    /// What the store holds of `host`.
    #[must_use]
    pub fn stored(&self, host: &str) -> Option<&HostHeard> {
        self.heard.get(host)
    }

    /// Every host the store knows, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &HostHeard)> {
        self.heard.iter().map(|(n, h)| (n.as_str(), h))
    }

    /// When `host` was last heard, and since when without a gap: the store's word, except
    /// that the observer's own host is heard now.
    #[must_use]
    pub fn heard(&self, host: &str, now: Timestamp) -> Option<HostHeard> {
        let stored = self.heard.get(host).copied();
        if self.here.as_deref() == Some(host) {
            let (since, pause) = stored.map_or((now, Duration::ZERO), |h| (h.since, h.pause));
            Some(HostHeard::new(now, since).paused(pause))
        } else {
            stored
        }
    }

    /// Decides `host`'s state at `now` under `policy`.
    #[must_use]
    pub fn judge(&self, host: &str, policy: &Policy, now: Timestamp) -> HostVerdict {
        let verdict = |state, reason, witnesses, since| HostVerdict {
            state,
            reason,
            witnesses,
            since,
        };
        if self.here.as_deref() == Some(host) {
            return verdict(
                HostState::Heard,
                "the observer runs there".to_owned(),
                Vec::new(),
                self.heard(host, now).map_or(now, |h| h.since),
            );
        }
        let Some(h) = self.heard.get(host).copied() else {
            return verdict(HostState::Silent, "never heard".to_owned(), Vec::new(), now);
        };
        let silent = now.since(h.last);
        let notice = h.standing_notice();
        if let Some(
            n @ Notice {
                kind: NoticeKind::Down,
                ..
            },
        ) = notice
        {
            let reason = format!("said it shuts down {} ago", Compact(now.since(n.at)));
            return verdict(HostState::Down, reason, Vec::new(), n.at);
        }
        let asleep = notice.filter(|n| n.kind == NoticeKind::Asleep);
        let limit = if asleep.is_some() {
            policy.host_asleep_max
        } else {
            policy.host_lost_after
        };
        // Heard is heard within the gap, or within the limit where that is shorter (a fleet
        // that hands work on after 30 s of silence).
        let gap = self.gap.min(limit);
        // A witness's record shows no silence longer than the store's gap: the host must have
        // been silent longer than that too, whatever its own limit.
        let limit_seen = limit.max(self.gap);
        if silent <= gap && asleep.is_none() {
            let reason = format!("heard {} ago", Compact(silent));
            return verdict(HostState::Heard, reason, Vec::new(), h.since);
        }
        // Other hosts heard now, without a gap since before this one's silence passed its
        // limit: each of them had the store (and the network) all along, and so had this one.
        let mut lost_since = None::<Timestamp>;
        let witnesses: Vec<String> = self
            .heard
            .iter()
            .filter(|(name, o)| {
                name.as_str() != host
                    && (self.here_witnesses || self.here.as_deref() != Some(name.as_str()))
                    && now.since(o.last) <= gap
                    && now.since(h.last.max(o.since)) > limit_seen
            })
            .map(|(name, o)| {
                let from = h.last.max(o.since).plus(limit_seen);
                lost_since = Some(lost_since.map_or(from, |t| t.min(from)));
                name.clone()
            })
            .collect();
        if let Some(since) = lost_since {
            let n = witnesses.len();
            let reason = format!(
                "silent {} while {n} host{} heard",
                Compact(silent),
                if n == 1 { "" } else { "s" }
            );
            return verdict(HostState::Lost, reason, witnesses, since);
        }
        if let Some(n) = asleep {
            let reason = format!(
                "asleep for {} (said so), lost after {}",
                Compact(now.since(n.at)),
                Compact(limit)
            );
            return verdict(HostState::Asleep, reason, Vec::new(), n.at);
        }
        let reason = format!(
            "silent {}; lost after {} with another host heard all along",
            Compact(silent),
            Compact(limit)
        );
        verdict(HostState::Silent, reason, Vec::new(), h.last)
    }
}

#[cfg(test)]
mod tests;
