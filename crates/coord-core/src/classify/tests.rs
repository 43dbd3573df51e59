//! Scenario tests and property tests for `classify`.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::host::{HOST_GAP, HostHeard, Hosts};
use crate::policy::PolicyOverrides;
use crate::session::{Runtime, Source};

const MIN: i64 = 60_000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn session(last_seen: i64) -> Session {
    Session {
        id: "s".into(),
        parent: None,
        incarnation: 1,
        revision: 1,
        host: "h".into(),
        pid: Some(10),
        pid_start: Some(99),
        boot_id: Some("b".into()),
        runtime: Runtime::Claude,
        task: "session".into(),
        cwd: None,
        labels: BTreeMap::new(),
        registered_at: t(0),
        last_seen: t(last_seen),
        last_activity: Some(t(last_seen)),
        last_progress: Some(t(last_seen)),
        phase: Phase::Working,
        phase_at: t(0),
        process: ProcessFact::Unknown,
        log_path: None,
        log_mtime: None,
        beats: 1,
        progress: None,
        signals: BTreeMap::from([(Source::Hook, t(last_seen))]),
        policy: PolicyOverrides::default(),
    }
}

/// A host heard last at `last` (ms), and all along before it.
fn heard(last: i64) -> HostHeard {
    HostHeard::new(t(last), t(0))
}

fn state_at(s: &Session, now: i64) -> Verdict {
    classify(
        s,
        &Hosts::only("h", Some(heard(now))),
        &Policy::default(),
        t(now),
    )
}

#[test]
fn a_recent_heartbeat_is_active() {
    let v = state_at(&session(100 * MIN), 100 * MIN + 3_000);
    assert_eq!((v.state, v.rule), (State::Active, Rule::Working));
    assert_eq!(v.reason, "last activity 3s ago");
}

#[test]
fn a_long_thought_within_stale_after_is_still_active() {
    let v = state_at(&session(100 * MIN), 105 * MIN);
    assert_eq!(v.state, State::Active);
    assert_eq!(v.reason, "working; no activity for 5m");
}

#[test]
fn no_progress_past_stale_after_is_stale_with_a_reason() {
    let mut s = session(100 * MIN);
    s.process = ProcessFact::Alive {
        checked_at: t(112 * MIN),
    };
    s.last_seen = t(112 * MIN);
    let v = state_at(&s, 112 * MIN);
    assert_eq!((v.state, v.rule), (State::Stale, Rule::NoProgress));
    assert_eq!(v.reason, "no progress for 12m; process alive");
    assert_eq!(v.since, t(110 * MIN));
}

#[test]
fn a_growing_log_is_progress() {
    let mut s = session(100 * MIN);
    s.log_mtime = Some(t(111 * MIN));
    assert_eq!(state_at(&s, 112 * MIN).state, State::Active);
}

#[test]
fn a_tool_within_its_timeout_is_in_tool_and_past_it_stale() {
    let mut s = session(100 * MIN);
    s.phase = Phase::InTool {
        tool: "Bash".into(),
        since: t(100 * MIN),
    };
    let v = state_at(&s, 120 * MIN);
    assert_eq!(
        (v.state, v.reason.as_str()),
        (State::InTool, "running Bash for 20m")
    );
    let v = state_at(&s, 129 * MIN);
    assert_eq!(v.state, State::InTool, "a long tool call is not a hang");
    let v = state_at(&s, 131 * MIN);
    assert_eq!(
        v.state,
        State::Dead,
        "silent past the 30m ttl with the host heard"
    );
    s.last_seen = t(130 * MIN);
    let v = state_at(&s, 131 * MIN);
    assert_eq!(v.state, State::Stale);
    assert!(
        v.reason
            .starts_with("Bash running 31m, past the tool timeout"),
        "{}",
        v.reason
    );
}

#[test]
fn waiting_is_idle_until_the_ttl() {
    let mut s = session(100 * MIN);
    s.phase = Phase::Waiting;
    s.phase_at = t(100 * MIN);
    let v = state_at(&s, 125 * MIN);
    assert_eq!(
        (v.state, v.reason.as_str()),
        (State::Idle, "turn over 25m ago; waiting for a prompt")
    );
    assert_eq!(state_at(&s, 131 * MIN).state, State::Dead);
}

#[test]
fn waiting_for_a_person_is_blocked_and_never_stale() {
    let mut s = session(100 * MIN);
    s.phase = Phase::Blocked {
        on: "permission for Bash".into(),
    };
    s.phase_at = t(100 * MIN);
    let v = state_at(&s, 100 * MIN + 20 * MIN);
    assert_eq!((v.state, v.rule), (State::Blocked, Rule::WaitingForPerson));
    assert_eq!(v.reason, "waiting for permission for Bash for 20m");
}

#[test]
fn a_question_or_a_plan_past_the_tool_timeout_is_blocked_not_stale() {
    use crate::agent_event::{Effect, HookPayload, read_hook};
    for (tool, reason) in [
        (
            "AskUserQuestion",
            "waiting for your answer to its question for 45m",
        ),
        (
            "ExitPlanMode",
            "waiting for your approval of its plan for 45m",
        ),
    ] {
        let payload = HookPayload {
            tool_name: Some(tool.into()),
            ..HookPayload::default()
        };
        let Effect::Phase(phase) = read_hook("PreToolUse", &payload, t(100 * MIN)).effect else {
            panic!("{tool}: no phase");
        };
        let mut s = session(100 * MIN);
        s.phase = phase;
        s.phase_at = t(100 * MIN);
        // Past tool_timeout (30m), stale_after and the ttl, with nothing heard since.
        let v = state_at(&s, 145 * MIN);
        assert_eq!(
            (v.state, v.rule, v.reason.as_str()),
            (State::Blocked, Rule::WaitingForPerson, reason),
            "{tool}"
        );
    }
}

#[test]
fn an_exited_process_is_dead_at_once() {
    let mut s = session(100 * MIN);
    s.process = ProcessFact::Exited {
        status: ExitStatus::Signal(9),
        at: t(100 * MIN + 500),
    };
    let v = state_at(&s, 100 * MIN + 2_500);
    assert_eq!((v.state, v.rule), (State::Dead, Rule::ProcessExited));
    assert_eq!(v.reason, "process exited (killed by signal 9) 2s ago");
}

#[test]
fn silence_without_word_from_the_host_is_unknown_not_dead() {
    let s = session(100 * MIN);
    let now = t(200 * MIN);
    let silent_host = classify(
        &s,
        &Hosts::only("h", Some(heard(100 * MIN))),
        &Policy::default(),
        now,
    );
    assert_eq!(
        (silent_host.state, silent_host.rule),
        (State::Unknown, Rule::HostSilent)
    );
    let no_host = classify(&s, &Hosts::only("h", None), &Policy::default(), now);
    assert_eq!(no_host.state, State::Unknown);
    let dead = classify(
        &s,
        &Hosts::only("h", Some(heard(150 * MIN))),
        &Policy::default(),
        now,
    );
    assert_eq!((dead.state, dead.rule), (State::Dead, Rule::SilentPastTtl));
    assert_eq!(dead.since, t(130 * MIN));
}

#[test]
fn after_its_host_was_silent_a_session_has_a_full_ttl_to_be_heard_again() {
    // Silent since 100 min; its host (the store, the network) silent from 110 to 140 min, then
    // heard again: the session's silence counts from 140 min.
    let s = session(100 * MIN);
    let host = Some(HostHeard::new(t(150 * MIN), t(140 * MIN)));
    let back = classify(
        &s,
        &Hosts::only("h", host),
        &Policy::default(),
        t(150 * MIN),
    );
    assert_eq!((back.state, back.rule), (State::Unknown, Rule::HostSilent));
    assert!(
        back.reason.contains("heard again 10m ago"),
        "{}",
        back.reason
    );
    let host = Some(HostHeard::new(t(171 * MIN), t(140 * MIN)));
    let dead = classify(
        &s,
        &Hosts::only("h", host),
        &Policy::default(),
        t(171 * MIN),
    );
    assert_eq!((dead.state, dead.rule), (State::Dead, Rule::SilentPastTtl));
    assert_eq!(dead.since, t(170 * MIN));
}

#[test]
fn a_pause_of_its_host_shorter_than_the_gap_does_not_count_as_the_sessions_silence() {
    // A 30 s ttl, silent since 100 min; its host frozen for 2 min (too short for the store to
    // begin its gap-free time anew) and heard again at 102.5 min by another of its sessions.
    let mut s = session(100 * MIN);
    s.policy.ttl = Some(30_000);
    let frozen = Duration::from_secs(120);
    let host = |last| Some(HostHeard::new(t(last), t(0)).paused(frozen));
    let at = |ms| classify(&s, &Hosts::only("h", host(ms)), &Policy::default(), t(ms));
    let thawed = at(100 * MIN + 150_000);
    assert_eq!(
        (thawed.state, thawed.rule),
        (State::Unknown, Rule::HostSilent)
    );
    assert!(
        thawed.reason.contains("went silent for up to 2m"),
        "{}",
        thawed.reason
    );
    // Silent for a ttl beyond the pause, with its host heard: dead.
    let dead = at(100 * MIN + 151_000);
    assert_eq!((dead.state, dead.rule), (State::Dead, Rule::SilentPastTtl));
    assert_eq!(dead.since, t(100 * MIN + 150_000));
}

#[test]
fn per_session_overrides_apply() {
    let mut s = session(100 * MIN);
    s.policy.ttl = Some(30_000);
    assert_eq!(state_at(&s, 100 * MIN + 29_000).state, State::Active);
    assert_eq!(state_at(&s, 100 * MIN + 31_000).state, State::Dead);
}

#[test]
fn states_parse_and_print_alike() {
    for st in State::ALL {
        assert_eq!(st.as_str().parse::<State>().unwrap(), st);
        assert_eq!(serde_json::to_string(&st).unwrap(), format!("\"{st}\""));
    }
    assert!("alive".parse::<State>().is_err());
}

/// How alive a state says the session is; time alone may only lower it.
fn liveliness(s: State) -> u8 {
    match s {
        State::Active | State::InTool => 4,
        State::Idle | State::Blocked | State::Limited | State::Background => 3,
        State::Stale => 2,
        State::Unknown => 1,
        State::Dead | State::Ended => 0,
    }
}

prop_compose! {
    fn any_time()(ms in 0i64..(6 * 60 * MIN)) -> Timestamp { t(ms) }
}

fn any_phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::Working),
        Just(Phase::Waiting),
        Just(Phase::Ended),
        "[a-z ]{1,12}".prop_map(|on| Phase::Blocked { on }),
        "[a-z ]{1,12}".prop_map(|why| Phase::Limited { why }),
        Just(Phase::Background),
        (any_time(), "[A-Z][a-z]{1,6}").prop_map(|(since, tool)| Phase::InTool { tool, since }),
    ]
}

fn any_process() -> impl Strategy<Value = ProcessFact> {
    prop_oneof![
        Just(ProcessFact::Unknown),
        any_time().prop_map(|checked_at| ProcessFact::Alive { checked_at }),
        (any_time(), -2i32..3).prop_map(|(at, c)| ProcessFact::Exited {
            status: if c < 0 {
                ExitStatus::Gone
            } else {
                ExitStatus::Code(c)
            },
            at
        }),
    ]
}

fn any_duration() -> impl Strategy<Value = Duration> {
    (1u64..(90 * 60_000)).prop_map(Duration::from_millis)
}

prop_compose! {
    fn any_policy()(a in any_duration(), s in any_duration(), tt in any_duration(),
                    ttl in any_duration(), g in any_duration()) -> Policy {
        Policy { active_window: a, stale_after: s, tool_timeout: tt, ttl, evict_grace: g, lock_delay: g,
                 host_lost_after: tt.max(s), host_asleep_max: tt.max(s) * 4, task_keep: g,
                 event_keep: 100 }
    }
}

prop_compose! {
    /// A host heard at some time, without a gap since some earlier time, or never.
    fn any_host()(times in proptest::option::of((any_time(), any_time(), 0u64..(10 * MIN as u64))))
                  -> Option<HostHeard> {
        times.map(|(a, b, pause)| {
            HostHeard::new(a.max(b), a.min(b)).paused(Duration::from_millis(pause))
        })
    }
}

prop_compose! {
    fn any_session()(seen in any_time(), act in proptest::option::of(any_time()),
                     prog in proptest::option::of(any_time()), log in proptest::option::of(any_time()),
                     phase in any_phase(), phase_at in any_time(), process in any_process()) -> Session {
        let mut s = session(seen.as_millis());
        s.last_activity = act;
        s.last_progress = prog;
        s.log_mtime = log;
        s.phase = phase;
        s.phase_at = phase_at;
        s.process = process;
        s
    }
}

proptest! {
    #[test]
    fn an_exited_process_is_never_alive(s in any_session(), p in any_policy(), now in any_time(),
                                        host in any_host()) {
        let v = classify(&s, &Hosts::only("h", host), &p, now);
        if matches!(s.process, ProcessFact::Exited { .. }) {
            prop_assert!(matches!(v.state, State::Dead | State::Ended), "{v:?}");
        }
    }

    #[test]
    fn more_time_without_a_signal_never_makes_a_session_more_alive(
        s in any_session(), p in any_policy(), a in any_time(), b in any_time(),
        host in any_host()) {
        let (early, late) = (a.min(b), a.max(b));
        let v1 = classify(&s, &Hosts::only("h", host), &p, early);
        let v2 = classify(&s, &Hosts::only("h", host), &p, late);
        prop_assert!(liveliness(v2.state) <= liveliness(v1.state), "{v1:?} then {v2:?}");
    }

    #[test]
    fn dead_only_on_evidence(s in any_session(), p in any_policy(), now in any_time(),
                             host in any_host()) {
        let v = classify(&s, &Hosts::only("h", host), &p, now);
        if v.state == State::Dead {
            let exited = matches!(s.process, ProcessFact::Exited { .. });
            // Silent past the TTL, and for a whole TTL of its host being heard beyond its
            // longest pause.
            let silent_while_host_heard = now.since(s.last_seen) > p.ttl
                && host.is_some_and(|h| {
                    h.last > s.last_seen.max(h.since).plus(p.ttl).plus(h.pause)
                });
            prop_assert!(exited || silent_while_host_heard, "{v:?}");
        }
    }

    #[test]
    fn a_session_blocked_on_a_person_is_never_stale(s in any_session(), p in any_policy(), now in any_time()) {
        let mut s = s;
        s.phase = Phase::Blocked { on: "input".into() };
        let host = Some(HostHeard::new(now, t(0)));
        prop_assert_ne!(classify(&s, &Hosts::only("h", host), &p, now).state, State::Stale);
    }

    #[test]
    fn waiting_for_a_prompt_is_never_stale(s in any_session(), p in any_policy(), now in any_time()) {
        let mut s = s;
        s.phase = Phase::Waiting;
        let host = Some(HostHeard::new(now, t(0)));
        prop_assert_ne!(classify(&s, &Hosts::only("h", host), &p, now).state, State::Stale);
    }

    #[test]
    fn the_verdict_is_a_function_of_its_inputs(s in any_session(), p in any_policy(), now in any_time(),
                                               host in any_host()) {
        prop_assert_eq!(classify(&s, &Hosts::only("h", host), &p, now), classify(&s, &Hosts::only("h", host), &p, now));
    }
}

/// Host `h` (the session's) heard last at `h_last`; host `o` heard at `o_last`, without a gap
/// since `o_since`.
fn two_hosts(h_last: i64, o_last: i64, o_since: i64) -> Hosts {
    Hosts::new(
        BTreeMap::from([
            ("h".to_owned(), HostHeard::new(t(h_last), t(0))),
            ("o".to_owned(), HostHeard::new(t(o_last), t(o_since))),
        ]),
        None,
    )
}

#[test]
fn a_session_on_a_host_lost_while_another_is_heard_is_dead_with_the_evidence() {
    let s = session(100 * MIN);
    let p = Policy::default();
    // Two hours and a minute of silence of host h, while host o was heard all along.
    let now = 100 * MIN + 121 * MIN;
    let v = classify(&s, &two_hosts(100 * MIN, now - 2_000, 0), &p, t(now));
    assert_eq!((v.state, v.rule), (State::Dead, Rule::HostLost));
    assert_eq!(v.reason, "host h lost: silent 2h1m while 1 host heard");
    assert_eq!(v.since, t(220 * MIN));
    // A minute earlier the host is only silent, and so is the session unknown.
    let v = classify(
        &s,
        &two_hosts(100 * MIN, now - 2_000, 0),
        &p,
        t(now - 2 * MIN),
    );
    assert_eq!((v.state, v.rule), (State::Unknown, Rule::HostSilent));
}

#[test]
fn a_lost_host_needs_another_heard_without_a_gap_over_its_whole_silence() {
    let s = session(100 * MIN);
    let p = Policy::default();
    let now = 100 * MIN + 4 * 60 * MIN;
    // o heard now, but only since 30 minutes ago: the store (or o) was out before that.
    let v = classify(&s, &two_hosts(100 * MIN, now, now - 30 * MIN), &p, t(now));
    assert_eq!(v.state, State::Unknown, "{v:?}");
    // o was heard without a gap long ago, but not now: nobody is heard, nothing dies.
    let v = classify(&s, &two_hosts(100 * MIN, now - 6 * MIN, 0), &p, t(now));
    assert_eq!(v.state, State::Unknown, "{v:?}");
    // o heard without a gap for the last 2h1m, though it too was out before: lost.
    let v = classify(&s, &two_hosts(100 * MIN, now, now - 121 * MIN), &p, t(now));
    assert_eq!(v.state, State::Dead, "{v:?}");
}

#[test]
fn a_session_waiting_for_a_person_on_a_lost_host_is_dead_too() {
    let mut s = session(100 * MIN);
    s.phase = Phase::Blocked {
        on: "permission".into(),
    };
    let now = 100 * MIN + 3 * 60 * MIN;
    let v = classify(
        &s,
        &two_hosts(100 * MIN, now, 0),
        &Policy::default(),
        t(now),
    );
    assert_eq!((v.state, v.rule), (State::Dead, Rule::HostLost));
    // With its host silent but not lost, it stays blocked.
    let v = classify(
        &s,
        &two_hosts(100 * MIN, now, now - MIN),
        &Policy::default(),
        t(now),
    );
    assert_eq!(v.state, State::Blocked);
}

#[test]
fn a_host_that_said_it_sleeps_is_unknown_for_up_to_host_asleep_max() {
    let s = session(100 * MIN);
    let p = Policy::default();
    let mut hosts = BTreeMap::from([
        ("h".to_owned(), HostHeard::new(t(100 * MIN), t(0))),
        ("o".to_owned(), HostHeard::new(t(0), t(0))),
    ]);
    hosts.get_mut("h").unwrap().notice = Some(crate::host::Notice {
        kind: crate::host::NoticeKind::Asleep,
        at: t(100 * MIN),
    });
    let mut at = |now: i64| {
        hosts.get_mut("o").unwrap().last = t(now);
        let v = classify(&s, &Hosts::new(hosts.clone(), None), &p, t(now));
        (v.state, v.reason)
    };
    let (state, reason) = at(100 * MIN + 10 * 60 * MIN);
    assert_eq!(state, State::Unknown);
    assert!(reason.contains("host asleep for 10h"), "{reason}");
    assert_eq!(at(100 * MIN + 24 * 60 * MIN + MIN).0, State::Dead);
}

#[test]
fn a_host_that_said_it_shuts_down_loses_its_silent_sessions_at_once() {
    let s = session(100 * MIN);
    let mut h = HostHeard::new(t(100 * MIN), t(0));
    h.notice = Some(crate::host::Notice {
        kind: crate::host::NoticeKind::Down,
        at: t(100 * MIN + 1_000),
    });
    let hosts = Hosts::only("h", Some(h));
    // No other host is needed: the host said so. The session still has its ttl.
    let v = classify(&s, &hosts, &Policy::default(), t(131 * MIN));
    assert_eq!((v.state, v.rule), (State::Dead, Rule::HostLost));
    assert!(v.reason.starts_with("host h shut down"), "{}", v.reason);
    assert_eq!(
        classify(&s, &hosts, &Policy::default(), t(110 * MIN)).state,
        State::Active
    );
}

fn any_notice() -> impl Strategy<Value = Option<crate::host::Notice>> {
    use crate::host::{Notice, NoticeKind};
    proptest::option::of(
        (
            prop_oneof![
                Just(NoticeKind::Asleep),
                Just(NoticeKind::Down),
                Just(NoticeKind::Lost)
            ],
            any_time(),
        )
            .prop_map(|(kind, at)| Notice { kind, at }),
    )
}

prop_compose! {
    /// The session's host `h` and up to three others, each heard at some time (or never),
    /// without a gap since some earlier time, with a notice or none.
    fn any_fleet()(hosts in proptest::collection::vec(
        (proptest::option::of((any_time(), any_time(), 0u64..(10 * MIN as u64))), any_notice()),
        1..5)) -> Hosts {
        let heard = hosts
            .into_iter()
            .enumerate()
            .filter_map(|(i, (times, notice))| {
                let (a, b, pause) = times?;
                let name = if i == 0 { "h".to_owned() } else { format!("o{i}") };
                let pause = Duration::from_millis(pause);
                Some((name, HostHeard { last: a.max(b), since: a.min(b), pause, notice }))
            })
            .collect();
        Hosts::new(heard, None)
    }
}

proptest! {
    #[test]
    /// With no host heard now, no host is lost: what may still make a silent session dead is
    /// its own host heard after its ttl ran out (evidence from before the silence), never the
    /// silence of its host.
    fn never_lost_while_no_host_is_heard(s in any_session(), p in any_policy(),
                                         now in any_time(), fleet in any_fleet()) {
        let nobody_heard = fleet.iter().all(|(_, h)| now.since(h.last) > HOST_GAP);
        let down = fleet.stored("h").and_then(HostHeard::standing_notice)
            .is_some_and(|n| n.kind == crate::host::NoticeKind::Down);
        let v = classify(&s, &fleet, &p, now);
        if nobody_heard && !down {
            prop_assert_ne!(v.rule, Rule::HostLost, "{:?}", v);
        }
    }

    #[test]
    fn dead_only_on_evidence_in_a_fleet(s in any_session(), p in any_policy(), now in any_time(),
                                       fleet in any_fleet()) {
        let v = classify(&s, &fleet, &p, now);
        if v.state == State::Dead {
            let exited = matches!(s.process, ProcessFact::Exited { .. });
            let silent = now.since(s.last_seen) > p.ttl;
            let h = fleet.stored("h");
            let notice = h.and_then(HostHeard::standing_notice).map(|n| n.kind);
            let heard_itself = h.is_some_and(|h| {
                h.last > s.last_seen.max(h.since).plus(p.ttl).plus(h.pause)
            });
            let limit = if notice == Some(crate::host::NoticeKind::Asleep) {
                p.host_asleep_max
            } else {
                p.host_lost_after
            };
            let gap = HOST_GAP.min(limit);
            let lost = h.is_some_and(|h| {
                now.since(h.last) > gap
                    && fleet.iter().any(|(name, o)| {
                        name != "h" && now.since(o.last) <= gap
                            && now.since(h.last.max(o.since)) > limit
                    })
            });
            let down = notice == Some(crate::host::NoticeKind::Down);
            prop_assert!(exited || (silent && (heard_itself || lost || down)), "{v:?}");
        }
    }

    #[test]
    fn dead_once_the_host_is_silent_past_host_lost_after_while_another_is_heard(
        s in any_session(), p in any_policy(), extra in 1i64..(60 * MIN)) {
        let mut s = s;
        s.process = ProcessFact::Unknown;
        if s.phase == Phase::Ended {
            s.phase = Phase::Working;
        }
        let last = s.last_seen.as_millis();
        let wait = [p.ttl, p.tool_timeout, p.host_lost_after, HOST_GAP]
            .into_iter()
            .max()
            .unwrap();
        let since_in_tool = match &s.phase {
            Phase::InTool { since, .. } => since.plus(p.tool_timeout).as_millis(),
            _ => 0,
        };
        let now = (last + wait.as_millis() as i64).max(since_in_tool) + extra;
        let v = classify(&s, &two_hosts(last, now, last), &p, t(now));
        prop_assert_eq!((v.state, v.rule), (State::Dead, Rule::HostLost), "{:?}", v);
    }
}
