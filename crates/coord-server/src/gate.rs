//! The one way from the async server to the synchronous service: a small pool of [`Service`]
//! handles, each call run on a blocking thread with one handle, within a time budget, behind
//! the circuit breaker.
//!
//! A `Service` holds a store connection (SQLite's is not `Sync`), so handles are never shared:
//! a call takes one from the pool (opening one if none is idle), runs, and gives it back. The
//! server's own namespace has its pool, and so does each other namespace a remote client's
//! store operations name (`store.*`). A
//! handle whose call failed in the store is dropped rather than given back, so a broken
//! connection is replaced by a fresh one. The number of handles bounds the calls running at
//! once; a call that waits for a handle spends its own time budget waiting.
//!
//! Changes ([`Gate::change`]: a batch's, or a single call's) run as one group of the store's
//! changes. On a store with one writer at a time (the embedded one) they go to the server's
//! one [`Writer`], which runs whatever waits as one group, rather than poll the store's lock
//! against each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use coord_service::{Service, ServiceError};
use tokio::sync::Semaphore;

use crate::limits::Breaker;
use crate::methods::{Answer, Work};
use crate::metrics::Metrics;
use crate::writer::Writer;

/// Opens a service handle on a namespace: what `coord serve` is given to reach its store.
pub type Opener = dyn Fn(&str) -> Result<Service, BoxError> + Send + Sync;

/// Any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call through the gate did not return the service's answer.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The breaker is open: the store failed too often; nothing was tried.
    #[error("the store is failing; calls are refused for a while (circuit open)")]
    Open,
    /// The call did not finish within its budget (it may still complete).
    #[error("no answer within {}ms", .0.as_millis())]
    Timeout(Duration),
    /// No handle could be opened on the store.
    #[error("cannot open the store: {0}")]
    Unavailable(String),
    /// The service answered with an error.
    #[error(transparent)]
    Service(ServiceError),
    /// The store failed the group of changes the call ran in: none of the group landed.
    #[error("the store failed ({0}); nothing of this call landed")]
    GroupFailed(String),
    /// The call panicked (a bug); the server goes on.
    #[error("the call failed unexpectedly")]
    Panicked,
}

impl GateError {
    /// Whether this outcome counts against the store in the breaker.
    fn is_store_failure(&self) -> bool {
        matches!(
            self,
            GateError::Timeout(_)
                | GateError::Unavailable(_)
                | GateError::GroupFailed(_)
                | GateError::Service(ServiceError::Store(_))
        )
    }
}

/// The pool of handles, the breaker and the time budget, together.
#[derive(Clone)]
pub struct Gate {
    namespace: Arc<str>,
    idle: Arc<Mutex<HashMap<Arc<str>, Vec<Service>>>>,
    slots: Arc<Semaphore>,
    open: Arc<Opener>,
    breaker: Breaker,
    writer: Option<Arc<Writer>>,
}

impl Gate {
    /// A gate of `size` handles opened with `open`, the server's own on `namespace` (the
    /// first, `first`, already open). With `one_writer` (its metrics), changes go to a
    /// [`Writer`] of their own, whose thread this starts.
    pub fn new(
        size: usize,
        namespace: &str,
        first: Service,
        open: Arc<Opener>,
        breaker: Breaker,
        one_writer: Option<Metrics>,
    ) -> std::io::Result<Self> {
        let namespace: Arc<str> = namespace.into();
        let writer = one_writer
            .map(|metrics| Writer::start(Arc::clone(&namespace), Arc::clone(&open), metrics))
            .transpose()?
            .map(Arc::new);
        Ok(Self {
            idle: Arc::new(Mutex::new(HashMap::from([(
                Arc::clone(&namespace),
                vec![first],
            )]))),
            namespace,
            slots: Arc::new(Semaphore::new(size.max(1))),
            open,
            breaker,
            writer,
        })
    }

    /// The breaker in front of the store.
    #[must_use]
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Runs `f` with a handle on the server's namespace on a blocking thread and waits at
    /// most `budget` (waiting for a handle included).
    pub async fn call<T, F>(&self, budget: Duration, f: F) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    {
        self.call_in(None, budget, f).await
    }

    /// The same with a handle on `namespace` (`None`: the server's).
    pub async fn call_in<T, F>(
        &self,
        namespace: Option<&str>,
        budget: Duration,
        f: F,
    ) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    {
        let namespace: Arc<str> = namespace.map_or_else(|| Arc::clone(&self.namespace), Into::into);
        let ticket = self.breaker.admit().ok_or(GateError::Open)?;
        let run = self.run(namespace, f, |o| matches!(o, Err(ServiceError::Store(_))));
        let outcome = match tokio::time::timeout(budget, run).await {
            Ok(outcome) => outcome,
            Err(_) => Err(GateError::Timeout(budget)),
        };
        ticket.settle(outcome.as_ref().is_err_and(GateError::is_store_failure));
        outcome
    }

    /// Runs `works`, changes of the store on the server's namespace, in order as one group of
    /// the store's changes ([`crate::work::run_all`]), within one `budget` (a wait for its turn
    /// included): on the [`Writer`], with whatever else waits there, when the store has one
    /// writer; on one pooled handle otherwise. Each work counts in the breaker as a call of its
    /// own, and a store failure of any of them retires the handle.
    pub async fn change(
        &self,
        budget: Duration,
        works: Vec<Work>,
    ) -> Result<Vec<Result<Answer, ServiceError>>, GateError> {
        let count = works.len();
        let ticket = self.breaker.admit().ok_or(GateError::Open)?;
        let outcome = if let Some(writer) = &self.writer {
            tokio::time::timeout(budget, writer.run(works)).await
        } else {
            let run = self.run(
                Arc::clone(&self.namespace),
                move |s| crate::work::run_all(s, works),
                |o| match o {
                    Ok(results) => results
                        .iter()
                        .any(|r| matches!(r, Err(ServiceError::Store(_)))),
                    Err(e) => matches!(e, ServiceError::Store(_)),
                },
            );
            tokio::time::timeout(budget, run).await
        };
        let outcome = outcome.unwrap_or(Err(GateError::Timeout(budget)));
        match &outcome {
            Ok(results) => ticket.settle_each(
                results
                    .iter()
                    .map(|r| matches!(r, Err(ServiceError::Store(_)))),
            ),
            Err(e) => ticket.settle_each(std::iter::repeat_n(e.is_store_failure(), count)),
        }
        outcome
    }

    /// Runs `f` with a handle of `namespace` on a blocking thread; the handle goes back to its
    /// pool unless `broken` says the outcome shows a failing store connection.
    async fn run<T, F>(
        &self,
        namespace: Arc<str>,
        f: F,
        broken: fn(&Result<T, ServiceError>) -> bool,
    ) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    {
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| GateError::Panicked)?;
        let gate = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let service = gate.take(&namespace)?;
            let outcome = f(&service);
            if !broken(&outcome) {
                gate.give(&namespace, service);
            }
            outcome.map_err(GateError::Service)
        })
        .await
        .unwrap_or(Err(GateError::Panicked))
    }

    fn take(&self, namespace: &str) -> Result<Service, GateError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(namespace)
            .and_then(Vec::pop);
        match idle {
            Some(s) => Ok(s),
            None => (self.open)(namespace).map_err(|e| GateError::Unavailable(e.to_string())),
        }
    }

    /// Gives a handle back to its namespace's pool. Pools of other namespaces keep at most
    /// one idle handle each, so that callers naming many namespaces cannot hold many
    /// connections open.
    fn give(&self, namespace: &Arc<str>, service: Service) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let pool = idle.entry(Arc::clone(namespace)).or_default();
        if *namespace == self.namespace || pool.is_empty() {
            pool.push(service);
        }
    }
}
