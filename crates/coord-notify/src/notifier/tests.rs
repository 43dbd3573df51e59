//! Scenarios and property tests for the notifier: the debounce, the first round, the rate
//! limit, the filters, forgetting.

use std::collections::BTreeMap;

use coord_core::{Rule as ClassifyRule, State, Timestamp, Verdict};
use proptest::prelude::*;

use super::*;
use crate::channels::Channel;
use crate::testing::session;

const AFTER: Duration = Duration::from_millis(300);

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn rule(states: &[Trigger]) -> Rule {
    Rule {
        states: states.to_vec(),
        labels: BTreeMap::new(),
        host: None,
        channel: Channel::Desktop,
    }
}

fn notifier(rules: Vec<Rule>) -> Notifier {
    Notifier::new(&Config {
        notify_after: AFTER,
        rules,
    })
}

fn verdict(state: State) -> Verdict {
    Verdict {
        state,
        rule: ClassifyRule::Working,
        reason: format!("the reason for {state}"),
        since: t(0),
    }
}

/// A round at `now` over sessions given as (id, state).
fn round(n: &mut Notifier, now: i64, sessions: &[(&str, State)]) -> Round {
    let judged: Vec<_> = sessions
        .iter()
        .map(|(id, state)| (session(id), verdict(*state)))
        .collect();
    n.round(t(now), judged.iter().map(|(s, v)| (s, v)))
}

/// The (session, trigger, rule) of what a round sends.
fn sent(r: &Round) -> Vec<(String, Trigger, usize)> {
    r.send
        .iter()
        .map(|n| (n.event.id.clone(), n.event.trigger, n.rule))
        .collect()
}

const ALL: [Trigger; 5] = [
    Trigger::Blocked,
    Trigger::Stale,
    Trigger::Limited,
    Trigger::Dead,
    Trigger::TurnDone,
];

#[test]
fn a_change_is_sent_once_after_it_held_for_notify_after() {
    let mut n = notifier(vec![rule(&[Trigger::Blocked])]);
    assert!(sent(&round(&mut n, 0, &[("a", State::Active)])).is_empty());
    assert!(sent(&round(&mut n, 100, &[("a", State::Blocked)])).is_empty());
    assert_eq!(n.next_due(), Some(t(400)));
    assert!(sent(&round(&mut n, 399, &[("a", State::Blocked)])).is_empty());
    let r = round(&mut n, 400, &[("a", State::Blocked)]);
    assert_eq!(sent(&r), [("a".to_owned(), Trigger::Blocked, 0)]);
    let event = &r.send[0].event;
    assert_eq!(
        (event.state, event.previous, event.reason.as_str()),
        (
            State::Blocked,
            Some(State::Active),
            "the reason for blocked"
        )
    );
    assert_eq!(event.attach, "coord attach a");
    assert_eq!(n.next_due(), None);
    for now in [500, 10_000, 100_000] {
        assert!(sent(&round(&mut n, now, &[("a", State::Blocked)])).is_empty());
    }
}

#[test]
fn a_state_that_flaps_is_never_sent() {
    let mut n = notifier(vec![rule(&ALL)]);
    round(&mut n, 0, &[("a", State::Active)]);
    for i in 1..100 {
        let state = if i % 2 == 0 {
            State::Active
        } else {
            State::Blocked
        };
        assert!(sent(&round(&mut n, i * 200, &[("a", state)])).is_empty());
    }
}

#[test]
fn the_first_round_learns_what_is_already_there() {
    let mut n = notifier(vec![rule(&ALL)]);
    round(&mut n, 0, &[("a", State::Blocked), ("b", State::Dead)]);
    assert_eq!(n.next_due(), None);
    assert!(
        sent(&round(
            &mut n,
            5_000,
            &[("a", State::Blocked), ("b", State::Dead)]
        ))
        .is_empty()
    );
    // A session that appears later is told from its first settled state on.
    round(&mut n, 6_000, &[("c", State::Blocked)]);
    let r = round(&mut n, 6_300, &[("c", State::Blocked)]);
    assert_eq!(sent(&r), [("c".to_owned(), Trigger::Blocked, 0)]);
    assert_eq!(r.send[0].event.previous, None);
}

#[test]
fn a_change_back_and_again_is_a_new_change() {
    let mut n = notifier(vec![rule(&[Trigger::Blocked])]);
    round(&mut n, 0, &[("a", State::Active)]);
    round(&mut n, 100, &[("a", State::Blocked)]);
    assert_eq!(sent(&round(&mut n, 400, &[("a", State::Blocked)])).len(), 1);
    round(&mut n, 500, &[("a", State::Active)]);
    round(&mut n, 800, &[("a", State::Active)]);
    round(&mut n, 900, &[("a", State::Blocked)]);
    assert_eq!(
        sent(&round(&mut n, 1_200, &[("a", State::Blocked)])).len(),
        1
    );
}

#[test]
fn a_turn_is_done_when_idle_follows_work_only() {
    let mut n = notifier(vec![rule(&[Trigger::TurnDone])]);
    round(&mut n, 0, &[("a", State::InTool), ("b", State::Blocked)]);
    round(&mut n, 100, &[("a", State::Idle), ("b", State::Idle)]);
    let r = round(&mut n, 400, &[("a", State::Idle), ("b", State::Idle)]);
    assert_eq!(sent(&r), [("a".to_owned(), Trigger::TurnDone, 0)]);
    assert_eq!(
        r.send[0].event.text().split(':').next(),
        Some("a on h finished its turn")
    );
    // Idle after idle (a restart of the watcher, a new session) is no turn done.
    let mut n = notifier(vec![rule(&[Trigger::TurnDone])]);
    round(&mut n, 0, &[]);
    round(&mut n, 100, &[("c", State::Idle)]);
    assert!(sent(&round(&mut n, 400, &[("c", State::Idle)])).is_empty());
}

#[test]
fn each_matching_rule_gets_the_change_once() {
    let mut host_h = rule(&[Trigger::Dead]);
    host_h.host = Some("h".to_owned());
    let mut host_x = rule(&[Trigger::Dead]);
    host_x.host = Some("x".to_owned());
    let mut labelled = rule(&[Trigger::Dead]);
    labelled.labels.insert("team".to_owned(), "a".to_owned());
    let mut n = notifier(vec![
        rule(&[Trigger::Blocked]),
        host_h,
        host_x,
        labelled,
        rule(&[Trigger::Dead, Trigger::Stale]),
    ]);
    round(&mut n, 0, &[("a", State::Active)]);
    round(&mut n, 100, &[("a", State::Dead)]);
    let r = round(&mut n, 400, &[("a", State::Dead)]);
    assert_eq!(
        sent(&r),
        [
            ("a".to_owned(), Trigger::Dead, 1),
            ("a".to_owned(), Trigger::Dead, 4)
        ]
    );
}

#[test]
fn a_rule_sends_ten_a_minute_and_drops_the_rest() {
    let mut n = notifier(vec![rule(&[Trigger::Dead]), rule(&[Trigger::Stale])]);
    let ids: Vec<String> = (0..15).map(|i| format!("s{i}")).collect();
    let all = |state| ids.iter().map(|i| (i.as_str(), state)).collect::<Vec<_>>();
    round(&mut n, 0, &all(State::Active));
    round(&mut n, 100, &all(State::Dead));
    let r = round(&mut n, 400, &all(State::Dead));
    assert_eq!((r.send.len(), r.limited.len()), (RATE_LIMIT, 5));
    assert!(r.limited.iter().all(|d| d.rule == 0));
    // The other rule has its own allowance.
    round(&mut n, 1_000, &all(State::Stale));
    let r = round(&mut n, 1_300, &all(State::Stale));
    assert_eq!((r.send.len(), r.limited.len()), (RATE_LIMIT, 5));
    // A minute after the first ten, the first rule may send again.
    round(&mut n, 2_000, &all(State::Dead));
    assert_eq!(round(&mut n, 2_300, &all(State::Dead)).limited.len(), 15);
    round(&mut n, 60_000, &all(State::Active));
    round(&mut n, 60_300, &all(State::Active));
    round(&mut n, 60_400, &all(State::Dead));
    let r = round(&mut n, 60_700, &all(State::Dead));
    assert_eq!((r.send.len(), r.limited.len()), (RATE_LIMIT, 5));
}

#[test]
fn a_session_that_goes_away_is_forgotten() {
    let mut n = notifier(vec![rule(&[Trigger::Blocked])]);
    round(&mut n, 0, &[("a", State::Blocked)]);
    round(&mut n, 100, &[]);
    assert!(n.sessions.is_empty());
    // Back, and blocked: a new session as far as the notifier knows.
    round(&mut n, 200, &[("a", State::Blocked)]);
    assert_eq!(sent(&round(&mut n, 500, &[("a", State::Blocked)])).len(), 1);
}

#[test]
fn states_that_fire_nothing_are_not_sent() {
    let mut n = notifier(vec![rule(&ALL)]);
    round(&mut n, 0, &[("a", State::Blocked)]);
    for (i, state) in [
        State::Active,
        State::InTool,
        State::Background,
        State::Unknown,
        State::Ended,
    ]
    .into_iter()
    .enumerate()
    {
        let at = 1_000 * (i as i64 + 1);
        round(&mut n, at, &[("a", state)]);
        assert!(sent(&round(&mut n, at + 300, &[("a", state)])).is_empty());
    }
}

/// A random history: one entry per round, the time since the last round (ms) and each of two
/// sessions' states (none: absent).
fn history() -> impl Strategy<Value = Vec<(i64, [Option<State>; 2])>> {
    let state = prop_oneof![
        3 => Just(Some(State::Active)),
        1 => Just(Some(State::InTool)),
        2 => Just(Some(State::Blocked)),
        1 => Just(Some(State::Idle)),
        1 => Just(Some(State::Dead)),
        1 => Just(Some(State::Stale)),
        1 => Just(None),
    ];
    prop::collection::vec((1i64..400, [state.clone(), state]), 1..80)
}

proptest! {
    /// Whatever the history: nothing is sent in the first round; each notification's state was
    /// seen in every round from its first sighting to the send, over at least `notify_after`;
    /// between two notifications of one session the state changed; no rule sends more than
    /// its limit in any window.
    #[test]
    fn what_is_sent_held_once_changed_and_keeps_the_limit(h in history()) {
        let mut n = notifier(vec![rule(&ALL)]);
        let ids = ["a", "b"];
        let mut now = 0;
        // Per session: the rounds (time, state) seen so far, contiguous while present.
        let mut seen: [Vec<(i64, State)>; 2] = [Vec::new(), Vec::new()];
        let mut last_sent: [Option<usize>; 2] = [None, None];
        let mut sends: Vec<i64> = Vec::new();
        for (i, (dt, states)) in h.iter().enumerate() {
            now += dt;
            let present: Vec<(&str, State)> = ids
                .iter()
                .zip(states)
                .filter_map(|(id, s)| s.map(|s| (*id, s)))
                .collect();
            for (k, s) in states.iter().enumerate() {
                if let Some(s) = s {
                    seen[k].push((now, *s));
                } else {
                    seen[k].clear();
                    last_sent[k] = None;
                }
            }
            let r = round(&mut n, now, &present);
            if i == 0 {
                prop_assert!(r.send.is_empty() && r.limited.is_empty());
            }
            for note in r.send.iter().chain(&r.limited) {
                let k = ids.iter().position(|id| *id == note.event.id).unwrap();
                let rounds = &seen[k];
                let state = note.event.state;
                prop_assert_eq!(rounds.last().map(|r| r.1), Some(state));
                let held_from = rounds
                    .iter()
                    .rev()
                    .take_while(|r| r.1 == state)
                    .last()
                    .unwrap()
                    .0;
                prop_assert!(now - held_from >= 300, "sent after {}ms", now - held_from);
                let start = rounds.len() - rounds.iter().rev().take_while(|r| r.1 == state).count();
                if let Some(before) = last_sent[k] {
                    prop_assert!(before < start, "sent twice for one change");
                }
                last_sent[k] = Some(rounds.len() - 1);
            }
            sends.extend(r.send.iter().map(|_| now));
            for &at in &sends {
                let within = sends.iter().filter(|&&s| s >= at && s - at < 60_000).count();
                prop_assert!(within <= RATE_LIMIT);
            }
        }
    }

    /// A session whose state changes every round, faster than `notify_after`, is never sent.
    #[test]
    fn flapping_faster_than_notify_after_is_never_sent(
        steps in prop::collection::vec(1i64..300, 1..100)
    ) {
        let mut n = notifier(vec![rule(&ALL)]);
        let mut now = 0;
        let mut blocked = false;
        round(&mut n, now, &[("a", State::Active)]);
        for dt in steps {
            now += dt;
            blocked = !blocked;
            let state = if blocked { State::Blocked } else { State::Active };
            prop_assert!(round(&mut n, now, &[("a", state)]).send.is_empty());
        }
    }
}
