//! Scripted scenarios on a simulated clock, and property tests over random sequences of
//! claims, completions, evictions and lapsed leases.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const S: u64 = 1000;

fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms as i64)
}

fn task(id: &str) -> Task {
    Task::new(
        &NewTask {
            id: id.into(),
            title: "migrate".into(),
            ..NewTask::default()
        },
        t(0),
    )
}

const LEASE: Duration = Duration::from_secs(60);
const DELAY: Duration = Duration::from_secs(5);

#[test]
fn a_zombie_cannot_finish_work_that_was_handed_on() {
    let mut w = task("t1");
    w.claim("alice", 1, LEASE, t(S)).unwrap();
    w.progress(1, Some(serde_json::json!({"step": 3})), LEASE, t(2 * S))
        .unwrap();
    // alice is declared dead and evicted: the sweep takes the task back.
    assert!(w.reclaim("alice evicted (dead: process gone)", DELAY, t(10 * S)));
    assert_eq!((w.state.name(), w.attempts), ("pending", 1));
    // Not handed out during the lock-delay…
    assert!(matches!(
        w.claim("bob", 2, LEASE, t(12 * S)),
        Err(TaskError::Delayed { .. })
    ));
    // …then bob gets it, with the progress alice reported, and a larger token.
    w.claim("bob", 2, LEASE, t(16 * S)).unwrap();
    assert_eq!(w.progress, Some(serde_json::json!({"step": 3})));
    // alice comes back and tries to finish: refused, nothing changes.
    let before = w.clone();
    let err = w.complete(1, t(17 * S)).unwrap_err();
    assert_eq!(
        err,
        TaskError::StaleToken {
            task: "t1".into(),
            given: 1,
            current: Some(2)
        }
    );
    assert_eq!(w, before);
    assert!(err.to_string().contains("stale fencing token 1"));
    w.complete(2, t(18 * S)).unwrap();
    assert_eq!(
        w.state,
        TaskState::Done {
            session: "bob".into()
        }
    );
    assert!(w.complete(2, t(19 * S)).is_err(), "done once");
}

#[test]
fn losing_max_attempts_holders_quarantines_the_task_with_its_history() {
    let mut w = task("t1");
    for (i, holder) in ["a", "b", "c"].iter().enumerate() {
        let now = t((i as u64 + 1) * 100 * S);
        w.claim(holder, i as u64 + 1, LEASE, now).unwrap();
        w.reclaim("lease lapsed", DELAY, now.plus(LEASE));
    }
    assert_eq!(w.attempts, 3);
    let TaskState::Failed { reason } = &w.state else {
        panic!("{:?}", w.state)
    };
    assert!(
        reason.starts_with("3 holders lost, the last c (token 3)"),
        "{reason}"
    );
    let whats: Vec<&str> = w.history.iter().map(|h| h.what.as_str()).collect();
    assert_eq!(whats.len(), 7, "{whats:?}");
    assert!(whats[1].starts_with("claimed by a"));
}

#[test]
fn a_release_by_the_holder_costs_no_attempt_and_no_delay() {
    let mut w = task("t1");
    w.claim("a", 1, LEASE, t(S)).unwrap();
    w.release(1, t(2 * S)).unwrap();
    assert_eq!(
        (w.state.name(), w.attempts, w.not_before),
        ("pending", 0, None)
    );
    w.claim("b", 2, LEASE, t(2 * S)).unwrap();
}

#[test]
fn progress_renews_the_lease_and_a_lapsed_lease_is_seen() {
    let mut w = task("t1");
    w.claim("a", 1, LEASE, t(0)).unwrap();
    assert!(!w.lease_lapsed(t(59 * S)));
    w.progress(1, None, LEASE, t(50 * S)).unwrap();
    assert!(!w.lease_lapsed(t(100 * S)));
    assert!(w.lease_lapsed(t(110 * S)));
}

#[test]
fn labels_decide_who_may_be_handed_a_task() {
    let mut w = task("t1");
    w.labels = BTreeMap::from([("team".into(), "infra".into())]);
    let infra = BTreeMap::from([("team".into(), "infra".into()), ("host".into(), "a".into())]);
    let web = BTreeMap::from([("team".into(), "web".into())]);
    assert!(w.fits(&infra));
    assert!(!w.fits(&web));
    assert!(task("t2").fits(&web), "a task without labels fits anyone");
}

/// One step of a random history.
#[derive(Clone, Debug)]
enum Op {
    /// Session `s` claims task `t` (with the next token).
    Claim(usize, usize),
    /// Someone tries to finish task `t` with the `k`th token ever issued.
    Complete(usize, usize),
    /// Someone reports progress on task `t` with the `k`th token ever issued.
    Progress(usize, usize),
    /// Session `s` is evicted: the sweep takes its tasks back.
    Evict(usize),
    /// Time passes.
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..3usize).prop_map(|(s, t)| Op::Claim(s, t)),
        (0..3usize, 0..12usize).prop_map(|(t, k)| Op::Complete(t, k)),
        (0..3usize, 0..12usize).prop_map(|(t, k)| Op::Progress(t, k)),
        (0..3usize).prop_map(Op::Evict),
        (0..120u64).prop_map(Op::Wait),
    ]
}

proptest! {
    #[test]
    fn fencing_holds_whatever_happens(ops in proptest::collection::vec(op(), 1..80)) {
        let sessions = ["a", "b", "c"];
        let mut tasks: Vec<Task> = (0..3).map(|i| task(&format!("t{i}"))).collect();
        let mut issued: Vec<(usize, u64)> = Vec::new(); // (task, token), in issue order
        let mut next_token = 1u64;
        let mut now = t(0);
        for op in ops {
            match op {
                Op::Claim(s, i) => {
                    if tasks[i].claim(sessions[s], next_token, LEASE, now).is_ok() {
                        issued.push((i, next_token));
                        next_token += 1;
                    }
                }
                Op::Complete(i, k) | Op::Progress(i, k) => {
                    let Some(&(_, token)) = issued.get(k) else { continue };
                    let latest = issued.iter().rev().find(|(ti, _)| *ti == i).map(|(_, tok)| *tok);
                    let before = tasks[i].clone();
                    let accepted = if matches!(op, Op::Complete(..)) {
                        tasks[i].complete(token, now).is_ok()
                    } else {
                        tasks[i].progress(token, None, LEASE, now).is_ok()
                    };
                    if accepted {
                        // Never a superseded token: only the task's latest claim is accepted.
                        prop_assert_eq!(Some(token), latest);
                        let was_claimed = matches!(before.state, TaskState::Claimed { .. });
                        prop_assert!(was_claimed);
                    } else {
                        prop_assert_eq!(&tasks[i], &before, "a refused call changes nothing");
                    }
                }
                Op::Evict(s) => {
                    for w in &mut tasks {
                        let held = matches!(&w.state, TaskState::Claimed { session, .. } if session == sessions[s]);
                        if held {
                            w.reclaim("evicted", DELAY, now);
                        }
                    }
                }
                Op::Wait(secs) => now = now.plus(Duration::from_secs(secs)),
            }
            // Never lost: every task is in exactly one of the four states, attempts bounded.
            for w in &tasks {
                prop_assert!(["pending", "claimed", "done", "failed"].contains(&w.state.name()));
                prop_assert!(w.attempts <= w.max_attempts);
            }
        }
        // Tokens strictly grow.
        prop_assert!(issued.windows(2).all(|p| p[0].1 < p[1].1));
    }
}
