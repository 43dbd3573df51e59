//! The one way from the async server to the synchronous service: a small pool of [`Service`]
//! handles, each call run on a blocking thread with one handle, within a time budget, behind
//! the circuit breaker.
//!
//! A `Service` holds a store connection (SQLite's is not `Sync`), so handles are never shared:
//! a call takes one from the pool (opening one if none is idle), runs, and gives it back. A
//! handle whose call failed in the store is dropped rather than given back, so a broken
//! connection is replaced by a fresh one. The number of handles bounds the calls running at
//! once; a call that waits for a handle spends its own time budget waiting.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use coord_service::{Service, ServiceError};
use tokio::sync::Semaphore;

use crate::limits::Breaker;

/// Opens a service handle: what `coord serve` is given to reach its store.
pub type Opener = dyn Fn() -> Result<Service, BoxError> + Send + Sync;

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
                | GateError::Service(ServiceError::Store(_))
        )
    }
}

/// The pool of handles, the breaker and the time budget, together.
#[derive(Clone)]
pub struct Gate {
    idle: Arc<Mutex<Vec<Service>>>,
    slots: Arc<Semaphore>,
    open: Arc<Opener>,
    breaker: Breaker,
}

impl Gate {
    /// A gate of `size` handles opened with `open` (the first, `first`, already open).
    #[must_use]
    pub fn new(size: usize, first: Service, open: Arc<Opener>, breaker: Breaker) -> Self {
        Self {
            idle: Arc::new(Mutex::new(vec![first])),
            slots: Arc::new(Semaphore::new(size.max(1))),
            open,
            breaker,
        }
    }

    /// The breaker in front of the store.
    #[must_use]
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Runs `f` with a handle on a blocking thread and waits at most `budget` (waiting for a
    /// handle included).
    pub async fn call<T, F>(&self, budget: Duration, f: F) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    {
        let ticket = self.breaker.admit().ok_or(GateError::Open)?;
        let outcome = match tokio::time::timeout(budget, self.run(f)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(GateError::Timeout(budget)),
        };
        ticket.settle(outcome.as_ref().is_err_and(GateError::is_store_failure));
        outcome
    }

    async fn run<T, F>(&self, f: F) -> Result<T, GateError>
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
            let service = gate.take()?;
            let outcome = f(&service);
            if !matches!(outcome, Err(ServiceError::Store(_))) {
                gate.give(service);
            }
            outcome.map_err(GateError::Service)
        })
        .await
        .unwrap_or(Err(GateError::Panicked))
    }

    fn take(&self) -> Result<Service, GateError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(s) => Ok(s),
            None => (self.open)().map_err(|e| GateError::Unavailable(e.to_string())),
        }
    }

    fn give(&self, service: Service) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(service);
    }
}
