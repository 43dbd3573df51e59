//! The one writer of a store that takes one writer at a time (the embedded store): a thread
//! with a store handle of its own that runs the changes queued for it, all that wait (up to
//! [`MAX_GROUP`] calls), as one group of the store's changes: one transaction and one commit
//! for all of them.
//!
//! Without it, concurrent changes would each wait for the store's lock, polling for it, and
//! commit alone. With it they queue in arrival order, share a commit, and start from the
//! sessions the writer's handle wrote last (a lasting handle keeps them, see
//! [`coord_store::sqlite`]). A call its caller gave up on (out of time) before its turn is not
//! run. Should a group fail in the store, or a change of it panic, none of it lands, every call
//! of it is answered so, and the handle is replaced by a fresh one for the next group.
//!
//! Beside it, a second thread with a handle of its own copies the store's write-ahead log back
//! every [`CHECKPOINT_EVERY`] ([`coord_store::Store::checkpoint`]): the writer's lasting handle
//! leaves that to the process, so that no group waits for the disk syncs a checkpoint makes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use coord_service::{Service, ServiceError};
use tokio::sync::{mpsc, oneshot};

use crate::gate::{GateError, Opener};
use crate::methods::{Answer, Work};
use crate::metrics::Metrics;

/// The most calls one group takes: a bound on how long a commit makes the first call wait.
pub const MAX_GROUP: usize = 1000;

/// How often the store's write-ahead log is copied back.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// What a queued call gets back: each change's result, in order, or why none ran.
pub type Outcome = Result<Vec<Result<Answer, ServiceError>>, GateError>;

/// Changes queued together (a batch's, or a single call's), and where their results go.
struct Job {
    works: Vec<Work>,
    reply: oneshot::Sender<Outcome>,
}

/// The writer thread and its queue, and the checkpoint thread. Dropping it lets the writer
/// finish what is queued, and both threads close their handles and end.
pub struct Writer {
    queue: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    checkpoints: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer of `namespace` and its checkpoint thread, which open their handles
    /// with `open`.
    pub fn start(
        namespace: Arc<str>,
        open: Arc<Opener>,
        metrics: Metrics,
    ) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let checkpoints = {
            let (namespace, open, stop) =
                (Arc::clone(&namespace), Arc::clone(&open), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("coord-checkpoint".to_owned())
                .spawn(move || checkpoint(&stop, &namespace, &*open))?
        };
        let thread = std::thread::Builder::new()
            .name("coord-writer".to_owned())
            .spawn(move || serve(jobs, &namespace, &*open, &metrics))?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            stop,
            checkpoints: Some(checkpoints),
        })
    }

    /// Queues `works` to run in order, in one group with whatever else waits, and waits for
    /// their results. The caller bounds the wait: dropping this future before the group
    /// starts means the works never run.
    pub async fn run(&self, works: Vec<Work>) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let queued = self
            .queue
            .as_ref()
            .is_some_and(|queue| queue.send(Job { works, reply }).is_ok());
        if !queued {
            return Err(GateError::Unavailable("the writer has stopped".to_owned()));
        }
        answer.await.unwrap_or(Err(GateError::Panicked))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.checkpoints.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The checkpoint thread: copies the log back every [`CHECKPOINT_EVERY`] until `stop`, with a
/// handle it replaces when the store fails; says so once when it starts failing.
fn checkpoint(stop: &AtomicBool, namespace: &str, open: &Opener) {
    let mut handle: Option<Service> = None;
    let mut failing = false;
    while !stop.load(Ordering::Acquire) {
        std::thread::park_timeout(CHECKPOINT_EVERY);
        let outcome = match handle.take().map_or_else(|| open(namespace), Ok) {
            Ok(service) => service
                .checkpoint()
                .map(|()| service)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(service) => {
                handle = Some(service);
                failing = false;
            }
            Err(e) if !failing => {
                tracing::warn!(error = %e, "could not copy the store's log back");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

/// The writer thread: takes what is queued, runs it as one group (counted in `metrics`),
/// answers each call.
fn serve(
    mut jobs: mpsc::UnboundedReceiver<Job>,
    namespace: &str,
    open: &Opener,
    metrics: &Metrics,
) {
    let mut handle: Option<Service> = None;
    while let Some(first) = jobs.blocking_recv() {
        let mut calls = first.works.len();
        let mut group = vec![first];
        while calls < MAX_GROUP
            && let Ok(job) = jobs.try_recv()
        {
            calls += job.works.len();
            group.push(job);
        }
        group.retain(|job| !job.reply.is_closed());
        if group.is_empty() {
            continue;
        }
        metrics.group(group.iter().map(|job| job.works.len()).sum());
        let service = match handle.take().map_or_else(|| open(namespace), Ok) {
            Ok(service) => service,
            Err(e) => {
                let why = e.to_string();
                answer_all(group.into_iter().map(|job| job.reply), || {
                    Err(GateError::Unavailable(why.clone()))
                });
                continue;
            }
        };
        handle = run_group(&service, group).then_some(service);
    }
}

/// Runs `group` as one group of the store's changes on `service` and answers each job; false
/// when the outcome shows a failing store (or a panic), so that the handle is replaced.
fn run_group(service: &Service, group: Vec<Job>) -> bool {
    let mut sizes = Vec::with_capacity(group.len());
    let mut replies = Vec::with_capacity(group.len());
    let mut works = Vec::new();
    for job in group {
        sizes.push(job.works.len());
        replies.push(job.reply);
        works.extend(job.works);
    }
    match catch_unwind(AssertUnwindSafe(|| crate::work::run_all(service, works))) {
        Ok(Ok(results)) => {
            let healthy = !results
                .iter()
                .any(|r| matches!(r, Err(ServiceError::Store(_))));
            let mut results = results.into_iter();
            for (reply, size) in replies.into_iter().zip(sizes) {
                let _ = reply.send(Ok(results.by_ref().take(size).collect()));
            }
            healthy
        }
        Ok(Err(e)) => {
            let why = e.to_string();
            answer_all(replies, || Err(GateError::GroupFailed(why.clone())));
            false
        }
        Err(_) => {
            answer_all(replies, || Err(GateError::Panicked));
            false
        }
    }
}

/// Answers each of `replies` with `outcome`.
fn answer_all(
    replies: impl IntoIterator<Item = oneshot::Sender<Outcome>>,
    outcome: impl Fn() -> Outcome,
) {
    for reply in replies {
        let _ = reply.send(outcome());
    }
}
