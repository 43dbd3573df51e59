//! [`classify()`]: the one place a session's state is decided.
//!
//! The rules are tried in order; the first that holds decides. Each verdict names its rule and
//! says why in words a person reads in `coord ps` ("no progress for 12m; process alive").
//!
//! | order | state     | when |
//! |-------|-----------|------|
//! | 1     | `ended`   | the session ended cleanly |
//! | 2     | `dead`    | its process is known to have exited |
//! | 3     | `dead`    | silent past `ttl`, its host lost: silent past `host_lost_after` while another host was heard all along (a host that said it shuts down: at once) |
//! | 4     | `dead`    | every source silent past `ttl` (plus the longest pause of its host), while its host was heard from after that |
//! | 4     | `unknown` | every source silent past `ttl`, and its host silent (or asleep) too |
//! | 4     | `blocked` | waiting for a person's answer (never stale: a person is slow, not hung) |
//! | 5     | `limited` | alive but unable to work: an API error, a rate or usage limit |
//! | 6     | `in-tool` | a tool call runs, for less than `tool_timeout` |
//! | 7     | `stale`   | supposed to work (working, or a tool past `tool_timeout`), no progress for `stale_after` |
//! | 8     | `background` | the turn is over, its background work runs (never stale, not idle) |
//! | 9     | `idle`    | the turn is over, waiting for a prompt |
//! | 10    | `active`  | working, with recent activity |
//!
//! Death needs evidence: a silent session is only `dead` when something else on its host is
//! still heard (the classifier itself, for a local session), or when its whole host is lost
//! ([`Hosts::judge`]: other hosts were heard without a gap all the while it was silent);
//! otherwise coord cannot tell a dead agent from a silent host or an outage of its own, and
//! says `unknown`. Rules 3 and 4 wait longer for a tool call (until its `tool_timeout`, if that
//! is later). Rule 4 never applies to a session waiting for a person (a person is slow, not
//! dead); rule 3 does: nobody answers an agent on a machine that is gone.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::host::{HostState, Hosts};
use crate::policy::Policy;
use crate::session::{ExitStatus, Phase, ProcessFact, Session};
use crate::time::{Compact, Timestamp};

/// What a session is doing, as decided by [`classify()`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Working, with recent signs of it.
    Active,
    /// Inside a tool call that has not run too long.
    InTool,
    /// Waiting for a person's answer.
    Blocked,
    /// Alive but unable to work (an API error, a limit).
    Limited,
    /// The turn is over; its background work runs.
    Background,
    /// The turn is over; it waits for a prompt.
    Idle,
    /// Alive (or not known to be dead) but making no progress while it should: hung.
    Stale,
    /// Nothing can be judged: its host, its watcher or the store went silent.
    Unknown,
    /// Known dead: its process exited, or it fell silent while its host was still heard.
    Dead,
    /// Ended cleanly.
    Ended,
}

impl State {
    /// Every state, from the most alive to the least.
    pub const ALL: [State; 10] = [
        State::Active,
        State::InTool,
        State::Blocked,
        State::Limited,
        State::Background,
        State::Idle,
        State::Stale,
        State::Unknown,
        State::Dead,
        State::Ended,
    ];

    /// The state's name as shown and parsed.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::InTool => "in-tool",
            State::Blocked => "blocked",
            State::Limited => "limited",
            State::Background => "background",
            State::Idle => "idle",
            State::Stale => "stale",
            State::Unknown => "unknown",
            State::Dead => "dead",
            State::Ended => "ended",
        }
    }

    /// Whether a session in this state lives: not hung, not dead, not ended, not unknown.
    #[must_use]
    pub const fn is_live(self) -> bool {
        matches!(
            self,
            State::Active
                | State::InTool
                | State::Blocked
                | State::Limited
                | State::Background
                | State::Idle
        )
    }

    /// Whether a session in this state may be handed new work: live, and neither unable to
    /// work nor busy with background work.
    #[must_use]
    pub const fn takes_work(self) -> bool {
        matches!(
            self,
            State::Active | State::InTool | State::Blocked | State::Idle
        )
    }

    /// Whether the sweep may remove a session in this state (after the grace period).
    #[must_use]
    pub const fn is_evictable(self) -> bool {
        matches!(self, State::Dead | State::Ended)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A name that is not one of [`State::ALL`].
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown state `{0}` (expected one of: active, in-tool, blocked, limited, background, idle, \
     stale, unknown, dead, ended)"
)]
pub struct UnknownState(String);

impl FromStr for State {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// The rule that decided a verdict, for `coord explain` and for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Rule 1: the session ended cleanly.
    EndedCleanly,
    /// Rule 2: the process is known to have exited.
    ProcessExited,
    /// Rule 3: silent past the TTL on a host that is lost or said it shuts down.
    HostLost,
    /// Rule 4: silent past the TTL while the host was heard after it.
    SilentPastTtl,
    /// Rule 4: silent past the TTL, and the host silent too.
    HostSilent,
    /// Rule 4: waiting for a person's answer.
    WaitingForPerson,
    /// Rule 5: unable to work.
    CannotWork,
    /// Rule 6: a tool call within the tool timeout.
    ToolRunning,
    /// Rule 5: no progress while it should work.
    NoProgress,
    /// Rule 8: the turn is over, background work runs.
    BackgroundWork,
    /// Rule 9: the turn is over.
    TurnOver,
    /// Rule 7: working, recently heard.
    Working,
}

impl Rule {
    /// The rule as a sentence.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Rule::EndedCleanly => "ended: the session unregistered or its agent said it ended",
            Rule::ProcessExited => "dead: its process is known to have exited (pid + start time)",
            Rule::HostLost => {
                "dead: silent longer than the ttl on a host lost (silent longer than \
                 host_lost_after while another host was heard all along) or shut down"
            }
            Rule::SilentPastTtl => {
                "dead: every source silent longer than the ttl while its host was still heard"
            }
            Rule::HostSilent => {
                "unknown: silent longer than the ttl, but its host is silent or asleep too, or \
                 heard again for less than a ttl after a silence (no evidence)"
            }
            Rule::WaitingForPerson => "blocked: it waits for a person's answer (never stale)",
            Rule::CannotWork => "limited: alive but unable to work (an API error, a limit)",
            Rule::ToolRunning => "in-tool: a tool call runs for less than the tool timeout",
            Rule::NoProgress => {
                "stale: supposed to work, but no progress for longer than stale_after"
            }
            Rule::BackgroundWork => "background: the turn is over, its background work runs",
            Rule::TurnOver => "idle: the turn is over and it waits for a prompt",
            Rule::Working => "active: working, heard from within stale_after",
        }
    }
}

/// The outcome of [`classify()`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The state.
    pub state: State,
    /// The rule that decided it.
    pub rule: Rule,
    /// Why, in a few words.
    pub reason: String,
    /// Since when the state has held, as far as the signals tell.
    pub since: Timestamp,
}

/// Decides the state of `session` at `now` under `policy` (with the session's own overrides),
/// knowing what `hosts` says of the session's host and of the others of its namespace.
#[must_use]
pub fn classify(session: &Session, hosts: &Hosts, policy: &Policy, now: Timestamp) -> Verdict {
    let p = policy.with(&session.policy);
    settled(session, now)
        .or_else(|| silent(session, hosts, &p, now))
        .unwrap_or_else(|| by_phase(session, &p, now))
}

fn verdict(state: State, rule: Rule, reason: String, since: Timestamp) -> Verdict {
    Verdict {
        state,
        rule,
        reason,
        since,
    }
}

/// Rules 1 and 2: the session ended, or its process did.
fn settled(session: &Session, now: Timestamp) -> Option<Verdict> {
    let ago = |t: Timestamp| Compact(now.since(t));
    if session.phase == Phase::Ended {
        let at = session.phase_at;
        let reason = format!("ended {} ago", ago(at));
        return Some(verdict(State::Ended, Rule::EndedCleanly, reason, at));
    }
    if let ProcessFact::Exited { status, at } = session.process {
        let reason = match status {
            ExitStatus::Gone => format!("process gone, seen {} ago", ago(at)),
            other => format!("process exited ({other}) {} ago", ago(at)),
        };
        return Some(verdict(State::Dead, Rule::ProcessExited, reason, at));
    }
    None
}

/// Rules 3 and 4: every source silent past the TTL (a tool call may be silent until its own
/// timeout). Silence on a lost host is death (rule 3), for a session waiting for a person too.
/// Otherwise (rule 4) a session waiting for a person is never dead by silence (a person is
/// slow, not dead), and silence is evidence only while the host is heard: it counts from the
/// session's last signal or from when its host was heard again after a silence of its own,
/// whichever is later, plus the longest pause of the host since (a host frozen for less than
/// the store's gap looks heard all along).
fn silent(session: &Session, hosts: &Hosts, p: &Policy, now: Timestamp) -> Option<Verdict> {
    let deadline = match &session.phase {
        Phase::InTool { since, .. } => session
            .last_seen
            .plus(p.ttl)
            .max(since.plus(p.tool_timeout)),
        _ => session.last_seen.plus(p.ttl),
    };
    if now <= deadline {
        return None;
    }
    let silent = now.since(session.last_seen);
    let host = hosts.judge(&session.host, p, now);
    if matches!(host.state, HostState::Lost | HostState::Down) {
        let what = if host.state == HostState::Down {
            "shut down"
        } else {
            "lost"
        };
        let reason = format!("host {} {what}: {}", session.host, host.reason);
        return Some(verdict(
            State::Dead,
            Rule::HostLost,
            reason,
            deadline.max(host.since),
        ));
    }
    if matches!(session.phase, Phase::Blocked { .. }) {
        return None;
    }
    let unknown = |why: String| verdict(State::Unknown, Rule::HostSilent, why, deadline);
    Some(match hosts.heard(&session.host, now) {
        Some(h) if h.last > deadline => {
            // The session could only be heard while its host ran: from when the host was heard
            // again after a silence of its own, and less any pause the host's record hides.
            // Only the host heard past that is evidence.
            let back = h.since.plus(p.ttl);
            let by = deadline.max(back).plus(h.pause);
            if h.last <= by {
                return Some(unknown(if back > deadline {
                    format!(
                        "no signal for {}; its host was heard again {} ago, after a silence",
                        Compact(silent),
                        Compact(now.since(h.since))
                    )
                } else {
                    format!(
                        "no signal for {}; its host itself went silent for up to {} at a time",
                        Compact(silent),
                        Compact(h.pause)
                    )
                }));
            }
            verdict(
                State::Dead,
                Rule::SilentPastTtl,
                format!(
                    "no signal for {} (ttl {}); host still heard",
                    Compact(silent),
                    Compact(p.ttl)
                ),
                by,
            )
        }
        _ if host.state == HostState::Asleep => unknown(format!(
            "no signal for {}; host {}",
            Compact(silent),
            host.reason
        )),
        _ => unknown(format!(
            "no signal for {}; host silent too",
            Compact(silent)
        )),
    })
}

/// Rules 4 to 8: what the phase the agent reported and its progress say.
fn by_phase(session: &Session, p: &Policy, now: Timestamp) -> Verdict {
    let ago = |t: Timestamp| Compact(now.since(t));
    let progress_at = session.progress_at();
    let quiet = now.since(progress_at);
    let process = match session.process {
        ProcessFact::Alive { .. } => "process alive",
        _ => "process not watched",
    };
    match &session.phase {
        Phase::Blocked { on } => verdict(
            State::Blocked,
            Rule::WaitingForPerson,
            format!("waiting for {on} for {}", ago(session.phase_at)),
            session.phase_at,
        ),
        Phase::Limited { why } => verdict(
            State::Limited,
            Rule::CannotWork,
            format!("{why}, {} ago", ago(session.phase_at)),
            session.phase_at,
        ),
        Phase::Background => verdict(
            State::Background,
            Rule::BackgroundWork,
            format!(
                "turn over {} ago; background work runs",
                ago(session.phase_at)
            ),
            session.phase_at,
        ),
        Phase::InTool { tool, since } if now.since(*since) < p.tool_timeout => verdict(
            State::InTool,
            Rule::ToolRunning,
            format!("running {tool} for {}", ago(*since)),
            *since,
        ),
        Phase::InTool { tool, since } if quiet > p.stale_after => verdict(
            State::Stale,
            Rule::NoProgress,
            format!(
                "{tool} running {}, past the tool timeout; no progress for {}; {process}",
                ago(*since),
                Compact(quiet)
            ),
            since
                .plus(p.tool_timeout)
                .max(progress_at.plus(p.stale_after)),
        ),
        Phase::Working if quiet > p.stale_after => verdict(
            State::Stale,
            Rule::NoProgress,
            format!("no progress for {}; {process}", Compact(quiet)),
            progress_at.plus(p.stale_after),
        ),
        Phase::Waiting => verdict(
            State::Idle,
            Rule::TurnOver,
            format!(
                "turn over {} ago; waiting for a prompt",
                ago(session.phase_at)
            ),
            session.phase_at,
        ),
        _ if quiet <= p.active_window => verdict(
            State::Active,
            Rule::Working,
            format!("last activity {} ago", Compact(quiet)),
            session.phase_at,
        ),
        _ => verdict(
            State::Active,
            Rule::Working,
            format!("working; no activity for {}", Compact(quiet)),
            session.phase_at,
        ),
    }
}

#[cfg(test)]
mod tests;
