//! The store's own claim rate, in-process, for `bench/task-queue` to print beside the rate
//! through `coord serve`: one lasting `Service` on a store (embedded or Redis), as the
//! server's writer is; SESSIONS sessions, TASKS tasks added, then claims by the sessions in
//! turn (`Service::task_claim`) until the queue is empty or SECONDS have passed; then as many
//! tasks again, claimed in groups of 100 (`Service::task_claims` in `Service::group`: one
//! write transaction each on the embedded store, one pipeline on Redis), what a batch of 100
//! claims costs the store.
//!
//! ```text
//! claim_rate STORE_URL SECONDS SESSIONS TASKS
//! ```
//!
//! Prints two lines: `claim <claims/s>` and `claim-grouped <claims/s>`.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, Instant};

use coord_core::{NewTask, Policy, Runtime, Source};
use coord_service::batch::Claim;
use coord_service::tasks::DEFAULT_LEASE;
use coord_service::{HostInfo, RegisterRequest, Service};
use coord_store::{Config, StoreUrl};

/// Claims per group in the grouped figure, as in a batch of 100 calls.
const GROUP: usize = 100;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Adds `n` tasks named after `round`, a thousand per group.
fn add(service: &Service, round: &str, n: usize) -> Result<()> {
    for start in (0..n).step_by(1000) {
        service.group(|| -> coord_service::Result<()> {
            for i in start..n.min(start + 1000) {
                service.task_add(NewTask {
                    id: format!("{round}-{i}"),
                    title: format!("work {i}"),
                    labels: BTreeMap::new(),
                    max_attempts: None,
                })?;
            }
            Ok(())
        })??;
    }
    Ok(())
}

/// Claims `n` tasks in calls of `group` claims each, for at most `seconds`; claims per
/// second.
fn claims(service: &Service, sessions: usize, n: usize, group: usize, seconds: u64) -> Result<f64> {
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut claimed = 0;
    while claimed < n && Instant::now() < until {
        let batch: Vec<Claim> = (claimed..n.min(claimed + group))
            .map(|i| Claim {
                session: format!("bench-{}", i % sessions),
                task: None,
                lease: DEFAULT_LEASE,
            })
            .collect();
        if group == 1 {
            let c = &batch[0];
            service.task_claim(&c.session, None, c.lease)?;
        } else {
            for outcome in service.group(|| service.task_claims(&batch))? {
                outcome?;
            }
        }
        claimed += batch.len();
    }
    Ok(f64::from(u32::try_from(claimed).unwrap_or(u32::MAX)) / start.elapsed().as_secs_f64())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: claim_rate STORE_URL SECONDS SESSIONS TASKS";
    let url = StoreUrl::parse(Some(args.get(1).ok_or(usage)?), |_| None)?;
    let seconds: u64 = args.get(2).ok_or(usage)?.parse::<u64>()?.clamp(1, 60);
    let sessions: usize = args.get(3).ok_or(usage)?.parse::<usize>()?.max(1);
    let tasks: usize = args
        .get(4)
        .ok_or(usage)?
        .parse::<usize>()?
        .clamp(1, 1_000_000);
    let store = coord_store::open(&url, &Config::new("bench").lasting())?;
    let service = Service::new(store, HostInfo::current(), Policy::default());
    for i in 0..sessions {
        service.register(RegisterRequest {
            id: Some(format!("bench-{i}")),
            runtime: Some(Runtime::Other),
            source: Some(Source::Api),
            ..RegisterRequest::default()
        })?;
    }
    add(&service, "single", tasks)?;
    let single = claims(&service, sessions, tasks, 1, seconds)?;
    add(&service, "grouped", tasks)?;
    let grouped = claims(&service, sessions, tasks, GROUP, seconds)?;
    println!("claim {single:.0}");
    println!("claim-grouped {grouped:.0}");
    Ok(())
}
