//! The hosts of a fleet: what a host says of itself (`coord host sleep|wake|shutdown`), what
//! the sweep notes of the others (lost, rejoined), and the table behind `coord hosts`.
//!
//! A host's state is decided by [`coord_core::Hosts::judge`]; this module only reads what the
//! store heard, records what was said, and logs each change as an event of the host.

use coord_core::{
    EventKind, HostHeard, HostState, HostVerdict, Hosts, Notice, NoticeKind, Phase, Policy, Source,
    Timestamp,
};

use crate::{Result, Service};

/// What a host says of itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Said {
    /// It goes to sleep: its sessions are `unknown (host asleep)`, never lost for up to
    /// `host_asleep_max`.
    Sleep,
    /// It woke up: judged as any host again.
    Wake,
    /// It shuts down: its sessions end now and their work goes back at once.
    Shutdown,
}

/// The namespace's limits where the environment sets them: `COORD_HOST_LOST_AFTER`
/// ([`Policy::host_lost_after`]), `COORD_HOST_ASLEEP_MAX` ([`Policy::host_asleep_max`]) and
/// `COORD_TASK_KEEP` ([`Policy::task_keep`]), each a duration (`90m`, `2h`, `30d`), and
/// `COORD_EVENT_KEEP` ([`Policy::event_keep`]), a number of events; what every command, the
/// server and the live view judge, sweep and keep by.
pub fn namespace_limits(
    base: Policy,
    env: impl Fn(&str) -> Option<String>,
) -> std::result::Result<Policy, String> {
    let read = |key: &str, default| match env(key) {
        None => Ok(default),
        Some(text) => humantime::parse_duration(&text)
            .map_err(|e| format!("{key}={text}: {e} (for example 90m, 2h)")),
    };
    Ok(Policy {
        host_lost_after: read("COORD_HOST_LOST_AFTER", base.host_lost_after)?,
        host_asleep_max: read("COORD_HOST_ASLEEP_MAX", base.host_asleep_max)?,
        task_keep: read("COORD_TASK_KEEP", base.task_keep)?,
        event_keep: match env("COORD_EVENT_KEEP") {
            None => base.event_keep,
            Some(text) => text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("COORD_EVENT_KEEP={text}: not a number of events above 0")
            })?,
        },
        ..base
    })
}

/// What saying it changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Announced {
    /// The sessions of the host that ended (a shutdown).
    pub ended: Vec<String>,
    /// The tasks they held, taken back.
    pub released: Vec<String>,
}

/// One host of the fleet, with its state and its sessions.
#[derive(Clone, Debug)]
pub struct HostEntry {
    /// Its name.
    pub name: String,
    /// What the store heard of it.
    pub heard: HostHeard,
    /// Its state and why.
    pub verdict: HostVerdict,
    /// The ids of its sessions that have not ended.
    pub sessions: Vec<String>,
}

impl Service {
    /// Every host of the namespace, judged now, with its sessions.
    pub fn host_table(&self) -> Result<(Timestamp, Vec<HostEntry>)> {
        let now = self.store.now()?;
        let hosts = self.hosts_heard()?;
        let sessions = self.store.sessions()?;
        let table = hosts
            .iter()
            .map(|(name, heard)| HostEntry {
                name: name.to_owned(),
                heard: *heard,
                verdict: hosts.judge(name, &self.policy, now),
                sessions: sessions
                    .iter()
                    .filter(|s| s.host == name && s.phase != Phase::Ended)
                    .map(|s| s.id.clone())
                    .collect(),
            })
            .collect();
        Ok((now, table))
    }

    /// Records what this host says of itself. A shutdown also ends the host's sessions and
    /// takes back their tasks (after the lock-delay, as for any lost holder), so a clean
    /// reboot hands its work on in seconds.
    pub fn announce(&self, said: Said) -> Result<Announced> {
        let host = self.host.name.clone();
        let now = self.store.now()?;
        let mut done = Announced::default();
        if said == Said::Shutdown {
            let why = format!("host {host} shut down");
            for s in self.store.sessions()? {
                if s.host != host || s.phase == Phase::Ended {
                    continue;
                }
                if self.store.unregister(&s.id, Source::Cli)?.is_some() {
                    done.released
                        .extend(self.reclaim_from(&s.id, &why, self.policy.lock_delay)?);
                    done.ended.push(s.id);
                }
            }
        }
        let (notice, became, why) = match said {
            Said::Sleep => (Some(NoticeKind::Asleep), "asleep", "it said it sleeps"),
            Said::Wake => (None, "awake", "it said it woke"),
            Said::Shutdown => (Some(NoticeKind::Down), "down", "it said it shuts down"),
        };
        let notice = notice.map(|kind| Notice { kind, at: now });
        let event = EventKind::Host {
            became: became.to_owned(),
            why: why.to_owned(),
        };
        // Another writer may note the host at the same moment (a sweep finding it lost): read
        // again and retry, a few times; the host's own word wins.
        for _ in 0..5 {
            let expected = self.store.host_heard(&host)?.and_then(|h| h.notice);
            // Nothing to take back: a wake with no word standing logs nothing.
            if expected.is_none() && notice.is_none() {
                break;
            }
            if self.store.note_host(&host, expected, notice, &event)? {
                break;
            }
        }
        Ok(done)
    }

    /// Notes the hosts the sweep finds lost, and the hosts heard again after a notice (lost,
    /// asleep, down) that no longer holds. Returns each host noted with what it became.
    pub(crate) fn note_hosts(
        &self,
        hosts: &Hosts,
        now: Timestamp,
    ) -> Result<Vec<(String, String)>> {
        let mut noted = Vec::new();
        for (name, heard) in hosts.iter() {
            let verdict = hosts.judge(name, &self.policy, now);
            let (notice, became, why) = match (verdict.state, heard.notice) {
                (
                    HostState::Lost,
                    Some(Notice {
                        kind: NoticeKind::Lost,
                        ..
                    }),
                ) => continue,
                (HostState::Lost, _) => (
                    Some(Notice {
                        kind: NoticeKind::Lost,
                        at: now,
                    }),
                    "lost",
                    format!(
                        "{}; its sessions are dead, their work is handed on",
                        verdict.reason
                    ),
                ),
                (HostState::Heard, Some(n)) if heard.standing_notice().is_none() => {
                    let became = if n.kind == NoticeKind::Asleep {
                        "awake"
                    } else {
                        "rejoined"
                    };
                    let why = format!(
                        "heard again, {} after it was noted {}",
                        coord_core::Compact(heard.last.since(n.at)),
                        n.kind.as_str()
                    );
                    (None, became, why)
                }
                _ => continue,
            };
            let event = EventKind::Host {
                became: became.to_owned(),
                why,
            };
            if self.store.note_host(name, heard.notice, notice, &event)? {
                noted.push((name.to_owned(), became.to_owned()));
            }
        }
        Ok(noted)
    }
}
