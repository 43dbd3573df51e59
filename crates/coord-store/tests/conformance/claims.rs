//! The conformance checks of the atomic claim ([`Store::claim_task`]): the oldest waiting task
//! that fits, one token per claim and none for a refusal, every task claimed once by claimers
//! racing on many handles, and a waiting task and a lapsed claim found among many finished
//! ones.

use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

use coord_core::{EventKind, LEADER_TASK, NewTask, Task, TaskError, TaskState};
use coord_store::{ClaimOutcome, ClaimRequest, Store};

use super::Backend;

const LEASE: Duration = Duration::from_secs(60);

fn add(store: &dyn Store, id: &str, labels: &[(&str, &str)]) -> Task {
    let spec = NewTask {
        id: id.to_owned(),
        title: format!("do {id}"),
        labels: labels
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        max_attempts: None,
    };
    let t = Task::new(&spec, store.now().unwrap());
    assert!(store.put_task(&t, None, &[]).unwrap());
    t
}

fn claim<'a>(
    session: &'a str,
    labels: &'a BTreeMap<String, String>,
    task: Option<&'a str>,
) -> ClaimRequest<'a> {
    ClaimRequest {
        session,
        incarnation: 3,
        labels,
        task,
        lease: LEASE,
    }
}

fn claimed(outcome: ClaimOutcome) -> Task {
    match outcome {
        ClaimOutcome::Claimed(t) => *t,
        other => panic!("not claimed: {other:?}"),
    }
}

pub fn a_claim_takes_the_oldest_waiting_task_that_fits_with_one_token(b: &dyn Backend) {
    let store = b.open("default");
    let none = BTreeMap::new();
    let infra = BTreeMap::from([("team".to_owned(), "infra".to_owned())]);
    add(&*store, LEADER_TASK, &[]);
    add(&*store, "t1", &[("team", "infra")]);
    let t2 = add(&*store, "t2", &[]);
    add(&*store, "t3", &[]);
    let before = store.next_token().unwrap();
    let after = store.events(0, 1000).unwrap().last().map_or(0, |e| e.seq);

    let got = claimed(store.claim_task(&claim("s1", &none, None)).unwrap());
    let now = got.updated_at;
    let mut expected = t2.clone();
    expected.claim("s1", before + 1, LEASE, now).unwrap();
    assert_eq!(got, expected, "the core's claim, applied by the store");
    assert_eq!(store.task("t2").unwrap().unwrap(), got);
    let events = store.events(after, 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].session.as_str(),
            events[0].incarnation,
            &events[0].kind
        ),
        (
            "s1",
            3,
            &EventKind::Claimed {
                task: "t2".into(),
                token: before + 1
            }
        )
    );

    assert_eq!(
        claimed(store.claim_task(&claim("s1", &none, None)).unwrap()).id,
        "t3"
    );
    // t1 needs a label s1 lacks; the leader task waits for no one.
    assert_eq!(
        store.claim_task(&claim("s1", &none, None)).unwrap(),
        ClaimOutcome::NothingWaits
    );
    assert_eq!(
        claimed(store.claim_task(&claim("s2", &infra, None)).unwrap()).id,
        "t1"
    );
    // A claim of a named task that cannot be claimed is refused, and takes no token.
    match store.claim_task(&claim("s2", &none, Some("t2"))).unwrap() {
        ClaimOutcome::Refused(TaskError::NotPending { task, state }) => {
            assert_eq!((task.as_str(), state), ("t2", "claimed"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.claim_task(&claim("s2", &none, Some("nope"))).unwrap(),
        ClaimOutcome::NoSuchTask
    );
    let leader = claimed(
        store
            .claim_task(&claim("s2", &none, Some(LEADER_TASK)))
            .unwrap(),
    );
    assert!(matches!(leader.state, TaskState::Claimed { token, .. } if token == before + 4));
    assert_eq!(
        store.events(0, 1000).unwrap().last().unwrap().kind,
        EventKind::Leader { term: before + 4 }
    );
    assert_eq!(
        store.next_token().unwrap(),
        before + 5,
        "four claims, four tokens"
    );
}

pub fn a_released_task_waits_again_with_its_holders_progress_intact(b: &dyn Backend) {
    let store = b.open("default");
    let none = BTreeMap::new();
    add(&*store, "t1", &[]);
    let mut t = claimed(store.claim_task(&claim("s1", &none, None)).unwrap());
    let TaskState::Claimed { token, .. } = t.state else {
        panic!()
    };
    let details = serde_json::json!({ "steps": [], "done": {}, "n": 12_345_678_901_234_567_u64 });
    let expected = t.revision;
    let now = store.now().unwrap();
    t.progress(token, Some(details.clone()), LEASE, now)
        .unwrap();
    t.release(token, now).unwrap();
    assert!(store.put_task(&t, Some(expected), &[]).unwrap());
    let again = claimed(store.claim_task(&claim("s2", &none, None)).unwrap());
    assert_eq!(again.id, "t1");
    assert_eq!(
        again.progress,
        Some(details),
        "the progress, as the holder sent it"
    );
    assert_eq!(store.task("t1").unwrap().unwrap(), again);
}

pub fn claimers_racing_on_many_handles_claim_every_task_once_and_burn_no_token(b: &dyn Backend) {
    const TASKS: usize = 60;
    const THREADS: usize = 6;
    let store = b.open("default");
    for i in 0..TASKS {
        add(&*store, &format!("t{i:02}"), &[]);
    }
    let before = store.next_token().unwrap();
    let won: Vec<Vec<(String, u64)>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|n| {
                scope.spawn(move || {
                    let store = b.open("default");
                    let none = BTreeMap::new();
                    let me = format!("s{n}");
                    let mut won = Vec::new();
                    loop {
                        match store.claim_task(&claim(&me, &none, None)).unwrap() {
                            ClaimOutcome::Claimed(t) => {
                                let TaskState::Claimed { token, .. } = t.state else {
                                    panic!("{t:?}")
                                };
                                won.push((t.id.clone(), token));
                            }
                            ClaimOutcome::NothingWaits => return won,
                            other => panic!("{other:?}"),
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut tasks: Vec<String> = won.iter().flatten().map(|(t, _)| t.clone()).collect();
    tasks.sort();
    let all: Vec<String> = (0..TASKS).map(|i| format!("t{i:02}")).collect();
    assert_eq!(tasks, all, "every task claimed, each once");
    let mut tokens: Vec<u64> = won.iter().flatten().map(|(_, t)| *t).collect();
    tokens.sort_unstable();
    let expected: Vec<u64> = (before + 1..=before + TASKS as u64).collect();
    assert_eq!(tokens, expected, "one token per claim, none burnt");
    // Each holder's tokens grew with its claims.
    for w in &won {
        assert!(w.windows(2).all(|p| p[0].1 < p[1].1));
    }
}

pub fn a_waiting_task_is_found_among_many_finished_ones(b: &dyn Backend) {
    // Kept under the rate limit of one caller of a `coord serve` (1000 calls a minute).
    const FINISHED: usize = 500;
    let store = b.open("default");
    let none = BTreeMap::new();
    let now = store.now().unwrap();
    let mut result = Ok(());
    store
        .grouped(&mut || {
            for i in 0..FINISHED {
                let spec = NewTask {
                    id: format!("done{i:05}"),
                    title: "done".to_owned(),
                    ..NewTask::default()
                };
                let mut t = Task::new(&spec, now);
                t.claim("old", 1, LEASE, now).unwrap();
                t.complete(1, now).unwrap();
                if let Err(e) = store.put_task(&t, None, &[]) {
                    result = Err(e);
                }
            }
        })
        .unwrap();
    result.unwrap();
    add(&*store, "lapsed", &[]);
    let lapsed = ClaimRequest {
        lease: Duration::from_millis(1),
        ..claim("s0", &none, Some("lapsed"))
    };
    claimed(store.claim_task(&lapsed).unwrap());
    add(&*store, "wanted", &[]);
    assert_eq!(
        claimed(store.claim_task(&claim("s1", &none, None)).unwrap()).id,
        "wanted"
    );
    assert_eq!(
        store.claim_task(&claim("s1", &none, None)).unwrap(),
        ClaimOutcome::NothingWaits
    );
    // The open tasks (the sweep finds lapsed claims among them), and the last finished.
    let open: Vec<Task> = store.open_tasks().unwrap();
    assert_eq!(
        open.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["lapsed", "wanted"]
    );
    // Its lease of 1 ms is over once the store's clock has moved on.
    thread::sleep(Duration::from_millis(5));
    let now = store.now().unwrap();
    assert!(open[0].lease_lapsed(now), "{:?}", open[0].state);
    let last = store.finished_tasks(3).unwrap();
    assert_eq!(last.len(), 3);
    assert!(last.iter().all(|t| t.finished_at().is_some()), "{last:?}");
}
