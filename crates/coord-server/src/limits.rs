//! What keeps one client, or a failing store, from taking the server down: a rate limit per
//! instance and a circuit breaker toward the store.
//!
//! The rate limit keys each call by the instance it names (`instanceId`, else `id`), else by
//! the caller it says it is (`client`: a remote store sends its host), else by the client's
//! address, so one busy instance cannot spend another's allowance (ClaudeBench
//! keeps one bucket for everyone). The breaker counts consecutive store failures (an error of
//! the store, a handle that cannot be opened, a call past its time budget); after
//! [`Breaker::THRESHOLD`] of them it opens and calls are refused at once for
//! [`Breaker::OPEN_FOR`], then one probe call goes through (half-open): its success closes the
//! breaker, its failure opens it again.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::rpc::string_of;

/// The longest key kept for a caller (ids are at most 200 characters; longer ones are cut).
const MAX_KEY: usize = 256;

/// Calls allowed per key and minute.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    per_minute: NonZeroU32,
}

impl RateLimit {
    /// A limit of `per_minute` calls per key, with a burst of as many.
    #[must_use]
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            per_minute,
        }
    }

    /// The allowance per minute.
    #[must_use]
    pub fn allowance(&self) -> u32 {
        self.per_minute.get()
    }

    /// Takes one call from the allowance of the caller these params and this address name;
    /// false when it is spent.
    pub fn admit(&self, params: Option<&RawValue>, client: IpAddr) -> bool {
        self.limiter.check_key(&key(params, client)).is_ok()
    }

    /// Forgets the keys whose allowance is full again, so the table does not grow with every
    /// caller ever seen.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The members of a call's named parameters that name the instance calling, the first
/// present: an instance, a session, a store's client; for the work queue, the claiming
/// session, else the task whose holder changes it (so that a host whose agents claim and
/// finish thousands of tasks a minute is not counted as one caller).
#[derive(Deserialize)]
struct Caller<'a> {
    #[serde(rename = "instanceId", default, borrow)]
    instance_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    client: Option<&'a RawValue>,
    #[serde(default, borrow)]
    session: Option<&'a RawValue>,
    #[serde(default, borrow)]
    task: Option<&'a RawValue>,
}

/// The caller a call is counted against.
fn key(params: Option<&RawValue>, client: IpAddr) -> String {
    let caller = params.and_then(|p| serde_json::from_str::<Caller<'_>>(p.get()).ok());
    let named = caller.and_then(|c| {
        [c.instance_id, c.id, c.client, c.session, c.task]
            .into_iter()
            .flatten()
            .find_map(string_of)
    });
    match named.as_deref() {
        Some(id) => {
            let mut end = id.len().min(MAX_KEY);
            while !id.is_char_boundary(end) {
                end -= 1;
            }
            format!("id:{}", &id[..end])
        }
        None => format!("ip:{client}"),
    }
}

/// Where the breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; `failures` consecutive store failures so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// Calls are refused until `until`.
    Open {
        /// When a probe may go through.
        until: Instant,
    },
    /// One probe call is in flight (or may go); the others are refused.
    HalfOpen {
        /// Whether the probe has gone.
        probing: bool,
    },
}

impl BreakerState {
    /// The level of a closed breaker.
    pub const CLOSED: i64 = 0;
    /// The level of a half-open breaker.
    pub const HALF_OPEN: i64 = 1;
    /// The level of an open breaker.
    pub const OPEN: i64 = 2;

    /// 0 closed, 1 half-open, 2 open: the value of the `coord_breaker_state` gauge.
    #[must_use]
    pub fn level(self) -> i64 {
        match self {
            BreakerState::Closed { .. } => Self::CLOSED,
            BreakerState::HalfOpen { .. } => Self::HALF_OPEN,
            BreakerState::Open { .. } => Self::OPEN,
        }
    }

    /// The state's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed { .. } => "closed",
            BreakerState::HalfOpen { .. } => "half-open",
            BreakerState::Open { .. } => "open",
        }
    }
}

/// The circuit breaker toward the store.
#[derive(Clone)]
pub struct Breaker {
    state: Arc<Mutex<BreakerState>>,
    on_change: Arc<dyn Fn(BreakerState) + Send + Sync>,
}

impl Breaker {
    /// Consecutive store failures that open the breaker.
    pub const THRESHOLD: u32 = 20;
    /// How long it stays open before a probe.
    pub const OPEN_FOR: Duration = Duration::from_secs(10);

    /// A closed breaker; `on_change` hears every change of state (for the metrics).
    #[must_use]
    pub fn new(on_change: impl Fn(BreakerState) + Send + Sync + 'static) -> Self {
        Self {
            state: Arc::new(Mutex::new(BreakerState::Closed { failures: 0 })),
            on_change: Arc::new(on_change),
        }
    }

    /// The state now.
    #[must_use]
    pub fn state(&self) -> BreakerState {
        *self.lock()
    }

    /// Lets a call through, with the ticket on which to settle its outcome; `None` while the
    /// breaker is open (or its probe is in flight).
    #[must_use]
    pub fn admit(&self) -> Option<Ticket> {
        let mut state = self.lock();
        match *state {
            BreakerState::Closed { .. } => {}
            BreakerState::Open { until } if Instant::now() >= until => {
                self.set(&mut state, BreakerState::HalfOpen { probing: true });
            }
            BreakerState::HalfOpen { probing: false } => {
                self.set(&mut state, BreakerState::HalfOpen { probing: true });
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen { probing: true } => return None,
        }
        Some(Ticket {
            breaker: self.clone(),
            settled: false,
        })
    }

    fn settle(&self, store_failed: bool) {
        let mut state = self.lock();
        let next = match (*state, store_failed) {
            (_, false) => BreakerState::Closed { failures: 0 },
            (BreakerState::Closed { failures }, true) if failures + 1 < Self::THRESHOLD => {
                BreakerState::Closed {
                    failures: failures + 1,
                }
            }
            (BreakerState::Open { until }, true) => BreakerState::Open { until },
            (_, true) => BreakerState::Open {
                until: Instant::now() + Self::OPEN_FOR,
            },
        };
        self.set(&mut state, next);
    }

    /// A probe whose outcome never came (its caller went away) lets the next call probe.
    fn abandon(&self) {
        let mut state = self.lock();
        if *state == (BreakerState::HalfOpen { probing: true }) {
            self.set(&mut state, BreakerState::HalfOpen { probing: false });
        }
    }

    fn set(&self, state: &mut BreakerState, next: BreakerState) {
        let changed = state.level() != next.level();
        *state = next;
        if changed {
            (self.on_change)(next);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A call let through the breaker; its outcome must be settled.
pub struct Ticket {
    breaker: Breaker,
    settled: bool,
}

impl Ticket {
    /// Records the call's outcome: whether the store failed it.
    pub fn settle(mut self, store_failed: bool) {
        self.settled = true;
        self.breaker.settle(store_failed);
    }

    /// Records the outcomes of a group of calls let through together, in order, each as a
    /// call of its own.
    pub fn settle_each(mut self, store_failed: impl IntoIterator<Item = bool>) {
        self.settled = true;
        for failed in store_failed {
            self.breaker.settle(failed);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_the_threshold_and_one_probe_closes_it() {
        let b = Breaker::new(|_| {});
        for _ in 0..Breaker::THRESHOLD - 1 {
            b.admit().unwrap().settle(true);
        }
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                failures: Breaker::THRESHOLD - 1
            }
        );
        b.admit().unwrap().settle(true);
        assert_eq!(b.state().name(), "open");
        assert!(b.admit().is_none());
        *b.lock() = BreakerState::Open {
            until: Instant::now(),
        };
        let probe = b.admit().unwrap();
        assert!(b.admit().is_none(), "one probe at a time");
        probe.settle(false);
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_an_abandoned_one_frees_the_slot() {
        let b = Breaker::new(|_| {});
        *b.lock() = BreakerState::HalfOpen { probing: false };
        drop(b.admit().unwrap());
        assert_eq!(b.state(), BreakerState::HalfOpen { probing: false });
        b.admit().unwrap().settle(true);
        assert_eq!(b.state().name(), "open");
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = Breaker::new(|_| {});
        b.admit().unwrap().settle(true);
        b.admit().unwrap().settle(false);
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn calls_are_counted_per_instance_then_per_address() {
        let limit = RateLimit::per_minute(NonZeroU32::new(2).unwrap());
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let raw = |v: serde_json::Value| RawValue::from_string(v.to_string()).unwrap();
        let a = raw(serde_json::json!({ "instanceId": "a", "id": "x" }));
        let b = raw(serde_json::json!({ "instanceId": 7, "id": "b" }));
        assert!(limit.admit(Some(&a), ip));
        assert!(limit.admit(Some(&a), ip));
        assert!(!limit.admit(Some(&a), ip));
        assert!(limit.admit(Some(&b), ip));
        assert_eq!(key(Some(&b), ip), "id:b");
        let claim = raw(serde_json::json!({ "session": "s1", "task": "t1" }));
        assert_eq!(key(Some(&claim), ip), "id:s1");
        let complete = raw(serde_json::json!({ "task": "t1", "token": 3 }));
        assert_eq!(key(Some(&complete), ip), "id:t1");
        let escaped = RawValue::from_string(r#"{"id":"\u00e9"}"#.to_owned()).unwrap();
        assert_eq!(key(Some(&escaped), ip), "id:é");
        assert!(limit.admit(None, ip));
        assert!(limit.admit(None, ip));
        assert!(!limit.admit(None, ip));
        assert_eq!(key(None, ip), "ip:127.0.0.1");
        let long = raw(serde_json::json!({ "id": "é".repeat(300) }));
        assert!(key(Some(&long), ip).len() <= MAX_KEY + 3);
    }
}
