//! The conformance check of renewals and batches ([`Store::renew`], [`Store::renewals`] and
//! their kin): each call of a batch
//! is answered, in order, exactly as it would be alone, a refusal among them included, and a
//! change that loses its compare-and-set to an earlier one of the same batch changes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::{Beat, EventKind, NewTask, Phase, Task, TaskState};
use coord_store::{ClaimOutcome, ClaimRequest, Renewal, TaskEvent, TaskPut};

use super::{Backend, beat, registration};

pub fn a_batch_of_heartbeats_answers_each_as_it_would_alone(b: &dyn Backend) {
    let store = b.open("default");
    store.register(&registration("s1")).unwrap();
    store.register(&registration("s2")).unwrap();
    store.register(&registration("gone")).unwrap();
    store.unregister("gone", coord_core::Source::Cli).unwrap();

    let waiting = Beat {
        phase: Some(Phase::Waiting),
        ..beat(&*store)
    };
    let plain = beat(&*store);
    let beats = store.renewals(&[
        ("s1", &waiting),
        ("nobody", &plain),
        ("gone", &plain),
        ("s2", &plain),
        ("s1", &plain),
    ]);
    let beats: Vec<Option<u64>> = beats
        .into_iter()
        .map(|r| r.unwrap().map(|s| s.beats))
        .collect();
    assert_eq!(beats, [Some(1), None, None, Some(1), Some(2)]);
    assert_eq!(store.session("s1").unwrap().unwrap().phase, Phase::Waiting);
    // A renewal answers the counters the record holds after it.
    let renewed = store.renew("s2", &plain).unwrap().expect("registered");
    let stored = store.session("s2").unwrap().unwrap();
    assert_eq!(renewed, Renewal::from(&stored));
    assert_eq!((renewed.beats, renewed.incarnation), (2, 1));
    assert_eq!(store.renew("gone", &plain).unwrap(), None);
    let read: Vec<Option<String>> = store
        .sessions_named(&["s2", "nobody", "s1"])
        .into_iter()
        .map(|r| r.unwrap().map(|s| s.id))
        .collect();
    assert_eq!(read, [Some("s2".to_owned()), None, Some("s1".to_owned())]);
}

pub fn a_batch_of_claims_and_swaps_answers_each_as_it_would_alone(b: &dyn Backend) {
    let store = b.open("default");
    let now = store.now().unwrap();
    for id in ["t1", "t2"] {
        let spec = NewTask {
            id: id.to_owned(),
            title: format!("do {id}"),
            labels: BTreeMap::new(),
            max_attempts: None,
        };
        assert!(store.put_task(&Task::new(&spec, now), None, &[]).unwrap());
    }
    let labels = BTreeMap::new();
    let request = |session, task| ClaimRequest {
        session,
        incarnation: 1,
        labels: &labels,
        task,
        lease: Duration::from_secs(60),
    };
    let before = store.next_token().unwrap();
    let outcomes: Vec<ClaimOutcome> = store
        .claim_tasks(&[
            request("s1", None),
            request("s2", Some("t9")),
            request("s2", None),
            request("s1", None),
        ])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let token = |o: &ClaimOutcome| match o {
        ClaimOutcome::Claimed(t) => match t.state {
            TaskState::Claimed { token, .. } => Some((t.id.clone(), token)),
            _ => None,
        },
        _ => None,
    };
    assert_eq!(token(&outcomes[0]), Some(("t1".to_owned(), before + 1)));
    assert_eq!(outcomes[1], ClaimOutcome::NoSuchTask);
    assert_eq!(token(&outcomes[2]), Some(("t2".to_owned(), before + 2)));
    assert_eq!(outcomes[3], ClaimOutcome::NothingWaits);
    assert_eq!(store.next_token().unwrap(), before + 3, "no token burnt");

    let read: Vec<Option<Task>> = store
        .tasks_named(&["t2", "t9", "t1"])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(read[0].as_ref().map(|t| t.id.as_str()), Some("t2"));
    assert!(read[1].is_none());
    let t1 = read[2].clone().unwrap();
    let mut done = t1.clone();
    done.complete(before + 1, store.now().unwrap()).unwrap();
    let mut released = t1.clone();
    released.release(before + 1, store.now().unwrap()).unwrap();
    let event = [TaskEvent {
        session: "s1".to_owned(),
        incarnation: 1,
        kind: EventKind::Unclaimed {
            task: "t1".to_owned(),
            state: "done".to_owned(),
            why: "completed by its holder".to_owned(),
        },
    }];
    let stored: Vec<bool> = store
        .put_tasks(&[
            TaskPut {
                task: &done,
                expected: Some(t1.revision),
                events: &event,
            },
            TaskPut {
                task: &released,
                expected: Some(t1.revision),
                events: &[],
            },
        ])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored, [true, false], "the second lost to the first");
    assert_eq!(store.task("t1").unwrap().unwrap().state.name(), "done");
    let unclaimed = store
        .session_events("s1", 100)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::Unclaimed { .. }))
        .count();
    assert_eq!(unclaimed, 1, "only the change that landed logged its event");
}
