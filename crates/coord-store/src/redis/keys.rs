//! Where a namespace's data lives in Redis: the name of every key, all under one hash tag so
//! that a cluster keeps a namespace on one slot, and the fields of the `hosts` hash (the
//! layout is told in the module's header, [`super`]).

use std::time::Duration;

use coord_core::{HostHeard, Timestamp};

use crate::Result;

/// What the field of the `hosts` hash holding since when a host has been heard without a gap
/// starts with, the host's name after it (the host's own field holds when it was last heard);
/// a host name holds no NUL.
pub(super) const SINCE_PREFIX: &str = "since\0";

/// What the field of the `hosts` hash holding a host's longest silence since it has been heard
/// without a gap (ms) starts with, the host's name after it.
pub(super) const PAUSE_PREFIX: &str = "pause\0";

/// What the field of the `hosts` hash holding what is said of a host starts with (JSON of
/// [`coord_core::Notice`]), the host's name after it.
pub(super) const NOTICE_PREFIX: &str = "notice\0";

/// The field of the `hosts` hash that holds since when `host` has been heard without a gap.
pub(super) fn since_field(host: &str) -> String {
    format!("{SINCE_PREFIX}{host}")
}

/// The field of the `hosts` hash that holds `host`'s longest pause.
pub(super) fn pause_field(host: &str) -> String {
    format!("{PAUSE_PREFIX}{host}")
}

/// The field of the `hosts` hash that holds what is said of `host`.
pub(super) fn notice_field(host: &str) -> String {
    format!("{NOTICE_PREFIX}{host}")
}

/// A host's fields as stored: its last signal, since when heard without a gap, its longest
/// pause since (ms), its notice.
pub(super) fn host_from_fields(
    last: i64,
    since: Option<i64>,
    pause: Option<u64>,
    notice: Option<&str>,
) -> Result<HostHeard> {
    Ok(HostHeard {
        last: Timestamp::from_millis(last),
        since: Timestamp::from_millis(since.unwrap_or(0)),
        pause: Duration::from_millis(pause.unwrap_or(0)),
        notice: notice.map(serde_json::from_str).transpose()?,
    })
}

/// The keys of one namespace.
pub(super) struct Keys {
    /// `coord:{<ns>}:`, the prefix every key of the namespace starts with.
    pub(super) prefix: String,
    pub(super) ids: String,
    pub(super) last_seen: String,
    pub(super) hosts: String,
    pub(super) seq: String,
    pub(super) events: String,
    pub(super) tasks: String,
    /// The tasks that wait in the queue, by age (a sorted set; see `claim_task.lua`).
    pub(super) waiting: String,
    /// Set once `waiting` was built from every task of the namespace.
    pub(super) waiting_built: String,
    /// The tasks not finished, by age (a sorted set; see `put_task.lua`).
    pub(super) open: String,
    /// The finished tasks, by when they finished (a sorted set).
    pub(super) finished: String,
    /// Set once `open` and `finished` were built from every task of the namespace.
    pub(super) indexed: String,
    pub(super) tokens: String,
    /// The replication id of the master `tokens` was last fenced on.
    pub(super) tokens_fenced: String,
}

impl Keys {
    /// The keys of `namespace`. `%`, `{` and `}` in its name are percent-encoded, so the hash
    /// tag is the whole name and two namespaces never share a key.
    pub(super) fn new(namespace: &str) -> Self {
        let mut tag = String::with_capacity(namespace.len());
        for c in namespace.chars() {
            match c {
                '%' => tag.push_str("%25"),
                '{' => tag.push_str("%7B"),
                '}' => tag.push_str("%7D"),
                c => tag.push(c),
            }
        }
        let prefix = format!("coord:{{{tag}}}:");
        let key = |name: &str| format!("{prefix}{name}");
        Self {
            ids: key("ids"),
            last_seen: key("last_seen"),
            hosts: key("hosts"),
            seq: key("seq"),
            events: key("events"),
            tasks: key("tasks"),
            waiting: key("waiting"),
            waiting_built: key("waiting:built"),
            open: key("open"),
            finished: key("finished"),
            indexed: key("open:built"),
            tokens: key("tokens"),
            tokens_fenced: key("tokens:fenced"),
            prefix,
        }
    }

    pub(super) fn session(&self, id: &str) -> String {
        format!("{}session:{id}", self.prefix)
    }

    pub(super) fn task(&self, id: &str) -> String {
        format!("{}{}", self.task_prefix(), id)
    }

    pub(super) fn task_prefix(&self) -> String {
        format!("{}task:", self.prefix)
    }
}
