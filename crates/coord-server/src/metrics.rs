//! What `GET /metrics` shows, in the Prometheus text format (as OpenMetrics): the fleet by state
//! and its changes of state between scrapes, heartbeats, evictions, work taken back and handed on, call latency by method, calls refused
//! by the rate limit, the breaker's state and how often it opened, whether this server leads,
//! and how many calls each transaction of the store's one writer took.
//!
//! Label values come from closed sets (the method table, the states), so the number of series
//! is bounded whatever clients send. `system.metrics` reads the figures back (each method's
//! calls, errors and time, [`Metrics::method`], and the others), in ClaudeBench's shape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use coord_core::State;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

use crate::limits::BreakerState;

/// The `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The `from` and `to` labels of a change of state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabel {
    from: &'static str,
    to: &'static str,
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
    transitions: Family<TransitionLabel, Counter>,
    /// Each session's state at the last scrape, to count the changes at the next.
    last_states: Mutex<HashMap<String, State>>,
    heartbeats: Counter,
    evictions: Counter,
    released: Counter,
    reassigned: Counter,
    retired: Counter,
    latency: LatencyFamily,
    errors: Family<CodeLabel, Counter>,
    methods: Mutex<HashMap<&'static str, MethodFigures>>,
    rate_limited: Counter,
    breaker: Gauge,
    trips: Counter,
    leader: Gauge,
    groups: Histogram,
    started: SystemTime,
}

/// One method's calls since the server started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MethodFigures {
    /// Calls answered.
    pub calls: u64,
    /// Calls answered with an error.
    pub errors: u64,
    /// The time spent answering them, in seconds.
    pub seconds: f64,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 3.3 s.
    Histogram::new(exponential_buckets(0.000_05, 4.0, 9))
}

/// Registers `metric` as `name` and gives it back.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// `coord_sessions`, registered with every state at zero.
fn state_gauges(registry: &mut Registry) -> Family<StateLabel, Gauge> {
    let sessions = registered(
        registry,
        "sessions",
        "Sessions by state, as judged at the last scrape",
        Family::<StateLabel, Gauge>::default(),
    );
    for state in State::ALL {
        sessions
            .get_or_create(&StateLabel {
                state: state.as_str(),
            })
            .set(0);
    }
    sessions
}

impl Metrics {
    /// Every metric, registered and at zero.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("coord");
        let r = &mut registry;
        let inner = Inner {
            sessions: state_gauges(r),
            transitions: registered(
                r,
                "transitions",
                "Changes of a session's state, from one scrape's judgement of the fleet to the next",
                Family::<TransitionLabel, Counter>::default(),
            ),
            last_states: Mutex::new(HashMap::new()),
            heartbeats: registered(
                r,
                "heartbeats",
                "Heartbeats taken through the API",
                Counter::default(),
            ),
            evictions: registered(
                r,
                "evictions",
                "Sessions evicted by the sweeps this server ran",
                Counter::default(),
            ),
            released: registered(
                r,
                "tasks_released",
                "Tasks taken back from lost or departed holders",
                Counter::default(),
            ),
            reassigned: registered(
                r,
                "tasks_reassigned",
                "Tasks handed to live sessions",
                Counter::default(),
            ),
            retired: registered(
                r,
                "tasks_retired",
                "Finished tasks removed, past the time the namespace keeps them",
                Counter::default(),
            ),
            latency: registered(
                r,
                "rpc_request_duration_seconds",
                "Time to answer one JSON-RPC call, by method",
                Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            ),
            errors: registered(
                r,
                "rpc_errors",
                "JSON-RPC calls answered with an error, by code",
                Family::default(),
            ),
            methods: Mutex::default(),
            rate_limited: registered(
                r,
                "rpc_rate_limited",
                "Calls refused by the per-instance rate limit",
                Counter::default(),
            ),
            breaker: registered(
                r,
                "breaker_state",
                "The circuit breaker toward the store: 0 closed, 1 half-open, 2 open",
                Gauge::default(),
            ),
            trips: registered(
                r,
                "breaker_trips",
                "Times the circuit breaker toward the store opened",
                Counter::default(),
            ),
            leader: registered(
                r,
                "leader",
                "1 while this server holds the leader lease",
                Gauge::default(),
            ),
            // 1 to 1024 calls.
            groups: registered(
                r,
                "writer_group_calls",
                "Calls run in each transaction of the store's one writer (embedded store)",
                Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            ),
            started: SystemTime::now(),
            registry,
        };
        Self(Arc::new(inner))
    }

    /// Takes the fleet as judged now (each session's id and state): the number in each state,
    /// and each change since the last judgement.
    pub fn fleet(&self, states: &[(String, State)]) {
        for state in State::ALL {
            let n = states.iter().filter(|(_, s)| *s == state).count();
            self.0
                .sessions
                .get_or_create(&StateLabel {
                    state: state.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut last = self
            .0
            .last_states
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (id, to) in states {
            if let Some(from) = last.get(id).filter(|from| *from != to) {
                self.0
                    .transitions
                    .get_or_create(&TransitionLabel {
                        from: from.as_str(),
                        to: to.as_str(),
                    })
                    .inc();
            }
        }
        *last = states.iter().cloned().collect();
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
        let mut methods = self
            .0
            .methods
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let figures = methods.entry(method).or_default();
        figures.calls += 1;
        figures.errors += u64::from(error.is_some());
        figures.seconds += took.as_secs_f64();
    }

    /// The calls of `method` so far.
    #[must_use]
    pub fn method(&self, method: &str) -> MethodFigures {
        let methods = self
            .0
            .methods
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        methods.get(method).copied().unwrap_or_default()
    }

    /// How many calls were answered with the error `code`.
    #[must_use]
    pub fn errors_with(&self, code: i64) -> u64 {
        self.0
            .errors
            .get(&CodeLabel { code })
            .map_or(0, |c| c.get())
    }

    /// Counts a call refused by the rate limit.
    pub fn rate_limited(&self) {
        self.0.rate_limited.inc();
    }

    /// Shows the breaker's state (its [`crate::limits::BreakerState::level`]), counting each
    /// time it opens.
    pub fn breaker(&self, level: i64) {
        if level == BreakerState::OPEN {
            self.0.trips.inc();
        }
        self.0.breaker.set(level);
    }

    /// The breaker's state now (its level) and how many times it opened.
    #[must_use]
    pub fn breaker_state(&self) -> (i64, u64) {
        (self.0.breaker.get(), self.0.trips.get())
    }

    /// When the server started counting.
    #[must_use]
    pub fn started(&self) -> SystemTime {
        self.0.started
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
