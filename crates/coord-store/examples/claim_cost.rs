//! What one claim of the next task (`Store::claim_task`) costs as finished tasks pile up, for
//! `bench/task-queue`: for each count of finished tasks, a fresh namespace holds that many done
//! tasks and a few hundred waiting ones, and the waiting ones are claimed one by one, each by a
//! handle of its own as a command's would be (opened, one claim, closed).
//!
//! ```text
//! claim_cost STORE_URL FINISHED...
//! ```
//!
//! Prints one line per count: `claim <finished> <mean µs>`.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, Instant};

use coord_core::{NewTask, Task};
use coord_store::{ClaimOutcome, ClaimRequest, Config, StoreUrl};

/// Waiting tasks claimed per count, each a timed claim.
const CLAIMS: u32 = 300;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, counts) = args
        .split_first()
        .ok_or("usage: claim_cost STORE_URL FINISHED...")?;
    let url = StoreUrl::parse(Some(url), |_| None)?;
    let lease = Duration::from_secs(600);
    let labels = BTreeMap::new();
    for count in counts {
        let finished: usize = count.parse()?;
        let config = Config::new(format!("bench-{finished}-{}", std::process::id()));
        let store = coord_store::open(&url, &config)?;
        let now = store.now()?;
        let task = |id: String| {
            Task::new(
                &NewTask {
                    id,
                    title: "work".to_owned(),
                    ..NewTask::default()
                },
                now,
            )
        };
        let mut failed = None;
        store.grouped(&mut || {
            for i in 0..finished {
                let mut t = task(format!("done-{i:06}"));
                let done = t
                    .claim("old", 1, lease, now)
                    .and_then(|()| t.complete(1, now));
                if let Err(e) = done {
                    failed = Some(e.to_string());
                } else if let Err(e) = store.put_task(&t, None, &[]) {
                    failed = Some(e.to_string());
                }
            }
            for i in 0..CLAIMS {
                if let Err(e) = store.put_task(&task(format!("wait-{i:06}")), None, &[]) {
                    failed = Some(e.to_string());
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        drop(store);
        let start = Instant::now();
        for _ in 0..CLAIMS {
            let store = coord_store::open(&url, &config)?;
            let claim = ClaimRequest {
                session: "bench",
                incarnation: 1,
                labels: &labels,
                task: None,
                lease,
            };
            match store.claim_task(&claim)? {
                ClaimOutcome::Claimed(_) => {}
                other => return Err(format!("no claim: {other:?}").into()),
            }
        }
        let mean = start.elapsed().as_secs_f64() * 1e6 / f64::from(CLAIMS);
        println!("claim {finished} {mean:.0}");
    }
    Ok(())
}
