//! The time limits that judge a session.
//!
//! A [`Policy`] holds the namespace-wide limits with the documented defaults; a session may
//! carry [`PolicyOverrides`] of its own (an API instance that promises a heartbeat every 10 s
//! wants a 30 s TTL; a demo wants seconds, not minutes).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The limits [`crate::classify()`] and the sweep apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// A signal this recent makes a working session `active`.
    pub active_window: Duration,
    /// A working session with no progress for this long is `stale` (hung).
    pub stale_after: Duration,
    /// A tool call running longer than this no longer excuses a lack of progress.
    pub tool_timeout: Duration,
    /// With every source silent this long (and the host still heard), a session is `dead`.
    pub ttl: Duration,
    /// A session `dead` (or `ended`) this long is evicted by the sweep. Namespace-wide only:
    /// the sweep's index scan is bounded by it.
    pub evict_grace: Duration,
    /// Work taken back from a lost holder is not handed out again for this long, so that a
    /// write the old holder had in flight meets a refused token.
    pub lock_delay: Duration,
    /// A host silent this long, while another host was heard all along, is lost: its silent
    /// sessions are `dead` and their work is handed on.
    pub host_lost_after: Duration,
    /// A host that said it sleeps is lost only once silent this long.
    pub host_asleep_max: Duration,
    /// A task done or failed this long ago is removed by the sweep, with its history.
    /// Namespace-wide only.
    pub task_keep: Duration,
    /// How many events the namespace's log keeps: older ones are removed as it grows. What
    /// `coord report` and the timelines can look back over. Namespace-wide only.
    pub event_keep: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            active_window: Duration::from_secs(60),
            stale_after: Duration::from_secs(10 * 60),
            tool_timeout: Duration::from_secs(30 * 60),
            ttl: Duration::from_secs(30 * 60),
            evict_grace: Duration::from_secs(5 * 60),
            lock_delay: Duration::from_secs(5),
            host_lost_after: Duration::from_secs(2 * 60 * 60),
            host_asleep_max: Duration::from_secs(24 * 60 * 60),
            task_keep: Duration::from_secs(7 * 24 * 60 * 60),
            event_keep: 100_000,
        }
    }
}

impl Policy {
    /// The policy for one session: these limits with the session's own overrides applied.
    #[must_use]
    pub fn with(&self, o: &PolicyOverrides) -> Policy {
        Policy {
            active_window: o
                .active_window
                .map_or(self.active_window, Duration::from_millis),
            stale_after: o
                .stale_after
                .map_or(self.stale_after, Duration::from_millis),
            tool_timeout: o
                .tool_timeout
                .map_or(self.tool_timeout, Duration::from_millis),
            ttl: o.ttl.map_or(self.ttl, Duration::from_millis),
            evict_grace: self.evict_grace,
            lock_delay: self.lock_delay,
            host_lost_after: o
                .host_lost_after
                .map_or(self.host_lost_after, Duration::from_millis),
            host_asleep_max: self.host_asleep_max,
            task_keep: self.task_keep,
            event_keep: self.event_keep,
        }
    }
}

/// Limits one session sets for itself, in milliseconds; `None` keeps the namespace's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOverrides {
    /// Overrides [`Policy::active_window`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_window: Option<u64>,
    /// Overrides [`Policy::stale_after`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<u64>,
    /// Overrides [`Policy::tool_timeout`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_timeout: Option<u64>,
    /// Overrides [`Policy::ttl`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// Overrides [`Policy::host_lost_after`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_lost_after: Option<u64>,
}

impl PolicyOverrides {
    /// True when the session keeps every namespace limit.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
