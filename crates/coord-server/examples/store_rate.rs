//! The store's own heartbeat rate, in-process, for `bench/server-throughput` to print beside
//! the rate through `coord serve`: one `Service` on a store (embedded or Redis), heartbeats in a loop over
//! many instances, bounded in time; then the same with the leader check `system.heartbeat`
//! adds (`Service::lead`); then heartbeats in groups of 100 (`Service::heartbeats` in
//! `Service::group`: one write transaction each on the embedded store, one pipeline on Redis),
//! what a batch of 100 calls costs the store. The handle is a lasting one,
//! as `coord serve`'s writer is, and like the server a second thread copies its log back every
//! 100 ms.
//!
//! ```text
//! store_rate STORE_URL SECONDS IDS
//! ```
//!
//! Prints three lines: `heartbeat <calls/s>`, `heartbeat+lead <calls/s>` and
//! `heartbeat-grouped <calls/s>`.

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coord_core::{Beat, Policy, Runtime, Source};
use coord_service::leader::DEFAULT_LEADER_LEASE;
use coord_service::{HostInfo, RegisterRequest, Service};
use coord_store::{Config, StoreUrl};

fn rate(
    seconds: u64,
    mut one: impl FnMut(usize) -> Result<(), Box<dyn Error>>,
) -> Result<f64, Box<dyn Error>> {
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut n = 0;
    while Instant::now() < until {
        one(n)?;
        n += 1;
    }
    Ok(f64::from(u32::try_from(n).unwrap_or(u32::MAX)) / start.elapsed().as_secs_f64())
}

/// Heartbeats per group in the grouped figure, as in a batch of 100 calls.
const GROUP: u32 = 100;

/// One heartbeat of instance `n` (of `ids`).
fn beat_on(service: &Service, n: usize, ids: usize) -> coord_service::Result<()> {
    let id = format!("bench-{}", n % ids);
    service.heartbeat(&id, &Beat::activity(Source::Api, service.now()?))?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: store_rate STORE_URL SECONDS IDS";
    let url = StoreUrl::parse(Some(args.get(1).ok_or(usage)?), |_| None)?;
    let seconds: u64 = args.get(2).ok_or(usage)?.parse::<u64>()?.clamp(1, 60);
    let ids: usize = args.get(3).ok_or(usage)?.parse::<usize>()?.max(1);
    let config = Config::new("bench").lasting();
    let open = || -> Result<Service, Box<dyn Error>> {
        let store = coord_store::open(&url, &config)?;
        Ok(Service::new(store, HostInfo::current(), Policy::default()))
    };
    let service = open()?;
    let checkpoints = open()?;
    let done = &AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            while !done.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(100));
                let _ = checkpoints.checkpoint();
            }
        });
        let outcome = measure(&service, seconds, ids);
        done.store(true, Ordering::Release);
        outcome
    })
}

/// Registers the instances and prints the three rates.
fn measure(service: &Service, seconds: u64, ids: usize) -> Result<(), Box<dyn Error>> {
    for i in 0..ids {
        service.register(RegisterRequest {
            id: Some(format!("bench-{i}")),
            runtime: Some(Runtime::Other),
            source: Some(Source::Api),
            ..RegisterRequest::default()
        })?;
    }
    let beat = |n: usize| -> Result<String, Box<dyn Error>> {
        beat_on(service, n, ids)?;
        Ok(format!("bench-{}", n % ids))
    };
    let plain = rate(seconds, |n| beat(n).map(drop))?;
    let lead = rate(seconds, |n| {
        let id = beat(n)?;
        service.lead(&id, DEFAULT_LEADER_LEASE)?;
        Ok(())
    })?;
    let grouped = rate(seconds, |n| {
        let group = GROUP as usize;
        let names: Vec<String> = (0..group)
            .map(|i| format!("bench-{}", (n * group + i) % ids))
            .collect();
        let beat = Beat::activity(Source::Api, service.now()?);
        let beats: Vec<(&str, &Beat)> = names.iter().map(|id| (id.as_str(), &beat)).collect();
        for outcome in service.group(|| service.heartbeats(&beats))? {
            outcome?;
        }
        Ok(())
    })? * f64::from(GROUP);
    println!("heartbeat {plain:.0}");
    println!("heartbeat+lead {lead:.0}");
    println!("heartbeat-grouped {grouped:.0}");
    Ok(())
}
