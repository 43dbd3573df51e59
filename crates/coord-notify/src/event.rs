//! What a notification says: the [`Trigger`] a rule names, and the [`Event`] every channel
//! sends (as JSON, as a line of text, as a desktop notification's summary and body).

use std::collections::BTreeMap;
use std::fmt;

use coord_core::{Runtime, Session, State, Timestamp, Verdict};
use serde::{Deserialize, Serialize};

/// A change of state a rule can ask to be told of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The session waits for a person's answer.
    Blocked,
    /// It should work but makes no progress: hung.
    Stale,
    /// It cannot work: an API error, a rate or usage limit.
    Limited,
    /// It is known dead.
    Dead,
    /// It became idle right after working (`active` or `in-tool`): its turn is done.
    TurnDone,
}

impl Trigger {
    /// The trigger a settled change from `previous` to `state` fires, if any.
    #[must_use]
    pub fn of(previous: Option<State>, state: State) -> Option<Trigger> {
        match state {
            State::Blocked => Some(Trigger::Blocked),
            State::Stale => Some(Trigger::Stale),
            State::Limited => Some(Trigger::Limited),
            State::Dead => Some(Trigger::Dead),
            State::Idle if matches!(previous, Some(State::Active | State::InTool)) => {
                Some(Trigger::TurnDone)
            }
            _ => None,
        }
    }

    /// The name a rule's `states` uses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Trigger::Blocked => "blocked",
            Trigger::Stale => "stale",
            Trigger::Limited => "limited",
            Trigger::Dead => "dead",
            Trigger::TurnDone => "turn-done",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One session's change of state, as every channel sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The session.
    pub id: String,
    /// What the rule asked for.
    pub trigger: Trigger,
    /// The state `classify` decided (`idle` for a turn done).
    pub state: State,
    /// The state it settled in before, if the notifier saw one.
    pub previous: Option<State>,
    /// Why, as `coord ps` says it.
    pub reason: String,
    /// Since when the state has held, as far as the signals tell.
    pub since: Timestamp,
    /// The host it runs on.
    pub host: String,
    /// What it works on, if it said.
    pub task: Option<String>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The kind of agent.
    pub runtime: Runtime,
    /// The command that takes a person to it.
    pub attach: String,
}

impl Event {
    /// The event of `session`, judged `verdict`, firing `trigger` after `previous`.
    #[must_use]
    pub fn new(
        session: &Session,
        verdict: &Verdict,
        trigger: Trigger,
        previous: Option<State>,
    ) -> Self {
        Self {
            id: session.id.clone(),
            trigger,
            state: verdict.state,
            previous,
            reason: verdict.reason.clone(),
            since: verdict.since,
            host: session.host.clone(),
            task: Some(session.task.clone()).filter(|t| !t.is_empty()),
            labels: session.labels.clone(),
            runtime: session.runtime,
            attach: attach_hint(&session.id),
        }
    }

    /// The event `coord notify test` sends: a session of `host` blocked at `now`.
    #[must_use]
    pub fn sample(host: &str, now: Timestamp) -> Self {
        let id = "coord-notify-test".to_owned();
        Self {
            attach: attach_hint(&id),
            id,
            trigger: Trigger::Blocked,
            state: State::Blocked,
            previous: Some(State::Active),
            reason: "waiting for your answer to its question (a test of coord notify)".to_owned(),
            since: now,
            host: host.to_owned(),
            task: Some("a sample task".to_owned()),
            labels: BTreeMap::new(),
            runtime: Runtime::Claude,
        }
    }

    /// What happened, in a few words: `is blocked`, `finished its turn`.
    #[must_use]
    pub fn what(&self) -> String {
        match self.trigger {
            Trigger::TurnDone => "finished its turn".to_owned(),
            _ => format!("is {}", self.state),
        }
    }

    /// The event as one line of text (a chat message):
    /// `<id> on <host> is blocked: <reason> — coord attach <id>`.
    #[must_use]
    pub fn text(&self) -> String {
        format!(
            "{} on {} {}: {} — {}",
            self.id,
            self.host,
            self.what(),
            self.reason,
            self.attach
        )
    }
}

/// The command that attaches to session `id`.
fn attach_hint(id: &str) -> String {
    format!("coord attach {id}")
}
