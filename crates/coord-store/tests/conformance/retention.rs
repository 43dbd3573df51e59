//! The conformance checks of the task indexes and of retirement ([`Store::open_tasks`],
//! [`Store::finished_tasks`], [`Store::retire_tasks`]): finished tasks go oldest first and
//! within the limit, nothing open ever goes, and what is open or finished last is read
//! whatever else is kept.

use std::time::Duration;

use coord_core::{NewTask, Task, TaskState, Timestamp};
use coord_store::Store;

use super::Backend;

const LEASE: Duration = Duration::from_secs(60);

/// A task `id` added at `at` and put in the store, finished `finish` after that if some.
fn put(store: &dyn Store, id: &str, at: Timestamp, finish: Option<(bool, Duration)>) -> Task {
    let spec = NewTask {
        id: id.to_owned(),
        title: format!("do {id}"),
        ..NewTask::default()
    };
    let mut t = Task::new(&spec, at);
    if let Some((done, after)) = finish {
        t.claim("s", 1, LEASE, at).unwrap();
        if done {
            t.complete(1, at.plus(after)).unwrap();
        } else {
            t.fail(1, "gave up", at.plus(after)).unwrap();
        }
    }
    assert!(store.put_task(&t, None, &[]).unwrap());
    t
}

fn ids(tasks: &[Task]) -> Vec<&str> {
    tasks.iter().map(|t| t.id.as_str()).collect()
}

pub fn finished_tasks_retire_oldest_first_and_nothing_open_ever_does(b: &dyn Backend) {
    let store = b.open("default");
    let at = store.now().unwrap();
    let min = Duration::from_secs(60);
    put(&*store, "waiting", at, None);
    let mut claimed = Task::new(
        &NewTask {
            id: "claimed".to_owned(),
            ..NewTask::default()
        },
        at.plus(Duration::from_millis(1)),
    );
    claimed.claim("s", 2, LEASE, at).unwrap();
    assert!(store.put_task(&claimed, None, &[]).unwrap());
    put(&*store, "done-1m", at, Some((true, min)));
    put(&*store, "failed-2m", at, Some((false, 2 * min)));
    put(&*store, "done-3m", at, Some((true, 3 * min)));
    assert_eq!(
        ids(&store.finished_tasks(10).unwrap()),
        ["done-3m", "failed-2m", "done-1m"],
        "the latest finished first"
    );
    assert_eq!(ids(&store.finished_tasks(1).unwrap()), ["done-3m"]);
    assert_eq!(ids(&store.open_tasks().unwrap()), ["waiting", "claimed"]);

    // Finished before 2m30s: two of them, one at a time within the limit, the oldest first.
    let before = at.plus(2 * min + min / 2);
    assert_eq!(store.retire_tasks(before, 1).unwrap(), 1);
    assert!(store.task("done-1m").unwrap().is_none(), "the oldest went");
    assert!(store.task("failed-2m").unwrap().is_some());
    assert_eq!(store.retire_tasks(before, 10).unwrap(), 1);
    assert_eq!(store.retire_tasks(before, 10).unwrap(), 0, "none left");
    assert_eq!(
        ids(&store.tasks().unwrap()),
        ["done-3m", "waiting", "claimed"],
        "by age, then id"
    );

    // However late the limit, nothing open goes.
    let far = at.plus(Duration::from_secs(365 * 24 * 3600));
    assert_eq!(store.retire_tasks(far, 100).unwrap(), 1);
    assert_eq!(ids(&store.tasks().unwrap()), ["waiting", "claimed"]);
    assert!(store.finished_tasks(10).unwrap().is_empty());
    assert_eq!(ids(&store.open_tasks().unwrap()), ["waiting", "claimed"]);

    // An open task that finishes later moves to the finished ones, and retires in its turn.
    let mut t = store.task("claimed").unwrap().unwrap();
    let token = match t.state {
        TaskState::Claimed { token, .. } => token,
        ref other => panic!("{other:?}"),
    };
    let expected = t.revision;
    t.complete(token, at.plus(min)).unwrap();
    assert!(store.put_task(&t, Some(expected), &[]).unwrap());
    assert_eq!(ids(&store.open_tasks().unwrap()), ["waiting"]);
    assert_eq!(ids(&store.finished_tasks(10).unwrap()), ["claimed"]);
    assert_eq!(store.retire_tasks(far, 100).unwrap(), 1);
    assert_eq!(ids(&store.tasks().unwrap()), ["waiting"]);
}
