//! What `GET /metrics` shows, in the Prometheus text format (as OpenMetrics): the fleet by state,
//! heartbeats, evictions, work taken back and handed on, call latency by method, calls refused
//! by the rate limit, the breaker's state, whether this server leads, and how many calls each
//! transaction of the store's one writer took.
//!
//! Label values come from closed sets (the method table, the states), so the number of series
//! is bounded whatever clients send.

use std::sync::Arc;
use std::time::Duration;

use coord_core::State;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The `method` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

/// The `code` label of failed calls.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: i64,
}

type LatencyFamily = Family<MethodLabel, Histogram, fn() -> Histogram>;

/// The server's metrics; clones share them (one reference each: a call's work takes a clone).
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    sessions: Family<StateLabel, Gauge>,
    heartbeats: Counter,
    evictions: Counter,
    released: Counter,
    reassigned: Counter,
    retired: Counter,
    latency: LatencyFamily,
    errors: Family<CodeLabel, Counter>,
    rate_limited: Counter,
    breaker: Gauge,
    leader: Gauge,
    groups: Histogram,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 3.3 s.
    Histogram::new(exponential_buckets(0.000_05, 4.0, 9))
}

impl Metrics {
    /// Every metric, registered and at zero.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("coord");
        let sessions = Family::<StateLabel, Gauge>::default();
        let heartbeats = Counter::default();
        let evictions = Counter::default();
        let released = Counter::default();
        let reassigned = Counter::default();
        let retired = Counter::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let errors = Family::<CodeLabel, Counter>::default();
        let rate_limited = Counter::default();
        let breaker = Gauge::default();
        let leader = Gauge::default();
        // 1 to 1024 calls.
        let groups = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register(
            "sessions",
            "Sessions by state, as judged at the last scrape",
            sessions.clone(),
        );
        registry.register(
            "heartbeats",
            "Heartbeats taken through the API",
            heartbeats.clone(),
        );
        registry.register(
            "evictions",
            "Sessions evicted by the sweeps this server ran",
            evictions.clone(),
        );
        registry.register(
            "tasks_released",
            "Tasks taken back from lost or departed holders",
            released.clone(),
        );
        registry.register(
            "tasks_reassigned",
            "Tasks handed to live sessions",
            reassigned.clone(),
        );
        registry.register(
            "tasks_retired",
            "Finished tasks removed, past the time the namespace keeps them",
            retired.clone(),
        );
        registry.register(
            "rpc_request_duration_seconds",
            "Time to answer one JSON-RPC call, by method",
            latency.clone(),
        );
        registry.register(
            "rpc_errors",
            "JSON-RPC calls answered with an error, by code",
            errors.clone(),
        );
        registry.register(
            "rpc_rate_limited",
            "Calls refused by the per-instance rate limit",
            rate_limited.clone(),
        );
        registry.register(
            "breaker_state",
            "The circuit breaker toward the store: 0 closed, 1 half-open, 2 open",
            breaker.clone(),
        );
        registry.register(
            "leader",
            "1 while this server holds the leader lease",
            leader.clone(),
        );
        registry.register(
            "writer_group_calls",
            "Calls run in each transaction of the store's one writer (embedded store)",
            groups.clone(),
        );
        for state in State::ALL {
            sessions
                .get_or_create(&StateLabel {
                    state: state.as_str(),
                })
                .set(0);
        }
        Self(Arc::new(Inner {
            registry,
            sessions,
            heartbeats,
            evictions,
            released,
            reassigned,
            retired,
            latency,
            errors,
            rate_limited,
            breaker,
            leader,
            groups,
        }))
    }

    /// Sets the number of sessions in each state.
    pub fn set_sessions(&self, counts: &[(State, i64)]) {
        for (state, n) in counts {
            self.0
                .sessions
                .get_or_create(&StateLabel {
                    state: state.as_str(),
                })
                .set(*n);
        }
    }

    /// Counts `n` heartbeats taken.
    pub fn heartbeats(&self, n: u64) {
        self.0.heartbeats.inc_by(n);
    }

    /// Counts what a sweep and an assignment did.
    pub fn swept(&self, evicted: usize, released: usize, reassigned: usize, retired: usize) {
        self.0.evictions.inc_by(evicted as u64);
        self.0.released.inc_by(released as u64);
        self.0.reassigned.inc_by(reassigned as u64);
        self.0.retired.inc_by(retired as u64);
    }

    /// Times one call of `method`, and counts its error code if it failed.
    pub fn call(&self, method: &'static str, took: Duration, error: Option<i64>) {
        self.0
            .latency
            .get_or_create(&MethodLabel { method })
            .observe(took.as_secs_f64());
        if let Some(code) = error {
            self.0.errors.get_or_create(&CodeLabel { code }).inc();
        }
    }

    /// Counts a call refused by the rate limit.
    pub fn rate_limited(&self) {
        self.0.rate_limited.inc();
    }

    /// Shows the breaker's state (its [`crate::limits::BreakerState::level`]).
    pub fn breaker(&self, level: i64) {
        self.0.breaker.set(level);
    }

    /// Counts a group of `calls` calls the store's one writer ran in one transaction.
    pub fn group(&self, calls: usize) {
        self.0
            .groups
            .observe(f64::from(u32::try_from(calls).unwrap_or(u32::MAX)));
    }

    /// Shows whether this server leads.
    pub fn leader(&self, leads: bool) {
        self.0.leader.set(i64::from(leads));
    }

    /// The text of every metric.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.0.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
