//! The work a call runs on a service handle, and how a group of calls' works runs: in order,
//! as one group of the store's changes, with each run of like changes (heartbeats, claims,
//! holders' changes of tasks) applied together ([`coord_service::batch`]), so that a batch
//! of a hundred heartbeats waits for one round trip to a store behind a network, not a
//! hundred.

use coord_core::{Beat, Session, Task, Timestamp};
use coord_service::batch::{Claim, Update};
use coord_service::{Service, ServiceError};
use serde_json::Value;

/// What a call's work answers.
pub enum Answer {
    /// The result as it is.
    Ready(Value),
    /// The result, shaped after the work by whoever sends it: a change that runs on the
    /// store's one writer leaves the shaping (and the freeing of what it read) to another
    /// thread.
    Later(Box<dyn FnOnce() -> Value + Send>),
}

impl Answer {
    /// An answer shaped later by `shape`.
    pub fn later(shape: impl FnOnce() -> Value + Send + 'static) -> Self {
        Answer::Later(Box::new(shape))
    }
}

impl From<Answer> for Value {
    fn from(answer: Answer) -> Value {
        match answer {
            Answer::Ready(v) => v,
            Answer::Later(shape) => shape(),
        }
    }
}

/// What a call's work gives back.
pub type Outcome = Result<Answer, ServiceError>;

/// What a change applied with others does with its result: the call's answer (it may go on
/// with the handle, as `system.heartbeat` asks for the leader lease after its beat).
pub type Then<T> = Box<dyn FnOnce(&Service, Result<T, ServiceError>) -> Outcome + Send>;

/// The work of one call.
pub enum Work {
    /// Anything, run as it is.
    Run(Box<dyn FnOnce(&Service) -> Outcome + Send>),
    /// A heartbeat of session `id`: `beat` makes it at the store's time, read once for a run
    /// of heartbeats.
    Beat {
        /// The session.
        id: String,
        /// The beat at a time of the store's clock.
        beat: Box<dyn FnOnce(Timestamp) -> Beat + Send>,
        /// The answer.
        then: Then<Session>,
    },
    /// A claim of the work queue.
    Claim(Claim, Then<Task>),
    /// A holder's change of a task.
    Update(Update, Then<Task>),
}

impl Work {
    /// Work run as it is.
    pub fn run(f: impl FnOnce(&Service) -> Outcome + Send + 'static) -> Self {
        Work::Run(Box::new(f))
    }

    /// Runs this work alone, outside any group.
    pub fn call(self, service: &Service) -> Outcome {
        match self {
            Work::Run(f) => f(service),
            Work::Beat { id, beat, then } => {
                let result = service
                    .now()
                    .and_then(|now| service.heartbeat(&id, &beat(now)));
                then(service, result)
            }
            Work::Claim(claim, then) => {
                let result = service.task_claim(&claim.session, claim.task.as_deref(), claim.lease);
                then(service, result)
            }
            Work::Update(u, then) => {
                let result = service.task_update(&u.task, u.token, &u.op);
                then(service, result)
            }
        }
    }
}

/// Runs `works` in order as one group of the store's changes ([`Service::group`]), each run of
/// like changes applied together, and returns each work's outcome in order. An error means the
/// group did not land.
pub fn run_all(service: &Service, works: Vec<Work>) -> Result<Vec<Outcome>, ServiceError> {
    service.group(|| {
        let mut outcomes = Vec::with_capacity(works.len());
        let mut works = works.into_iter().peekable();
        while let Some(work) = works.next() {
            match work {
                Work::Run(f) => outcomes.push(f(service)),
                Work::Beat { id, beat, then } => {
                    let mut run = vec![(id, beat, then)];
                    while let Some(Work::Beat { id, beat, then }) =
                        works.next_if(|w| matches!(w, Work::Beat { .. }))
                    {
                        run.push((id, beat, then));
                    }
                    outcomes.extend(beats(service, run));
                }
                Work::Claim(claim, then) => {
                    let mut run = vec![(claim, then)];
                    while let Some(Work::Claim(claim, then)) =
                        works.next_if(|w| matches!(w, Work::Claim(..)))
                    {
                        run.push((claim, then));
                    }
                    outcomes.extend(applied(service, run, Service::task_claims));
                }
                Work::Update(update, then) => {
                    let mut run = vec![(update, then)];
                    while let Some(Work::Update(update, then)) =
                        works.next_if(|w| matches!(w, Work::Update(..)))
                    {
                        run.push((update, then));
                    }
                    outcomes.extend(applied(service, run, Service::task_updates));
                }
            }
        }
        outcomes
    })
}

/// A run of heartbeats, made at one reading of the store's clock (should it fail, each reads
/// it and fails on its own).
#[allow(clippy::type_complexity)]
fn beats(
    service: &Service,
    run: Vec<(
        String,
        Box<dyn FnOnce(Timestamp) -> Beat + Send>,
        Then<Session>,
    )>,
) -> Vec<Outcome> {
    let Ok(now) = service.now() else {
        return run
            .into_iter()
            .map(|(id, beat, then)| Work::Beat { id, beat, then }.call(service))
            .collect();
    };
    let mut ids = Vec::with_capacity(run.len());
    let mut made = Vec::with_capacity(run.len());
    let mut thens = Vec::with_capacity(run.len());
    for (id, beat, then) in run {
        made.push(beat(now));
        ids.push(id);
        thens.push(then);
    }
    let pairs: Vec<(&str, &Beat)> = ids.iter().map(String::as_str).zip(&made).collect();
    let results = service.heartbeats(&pairs);
    answers(service, results, thens)
}

/// A run of like changes applied together by `apply`, each result through its `then`.
fn applied<C, T>(
    service: &Service,
    run: Vec<(C, Then<T>)>,
    apply: impl FnOnce(&Service, &[C]) -> Vec<Result<T, ServiceError>>,
) -> Vec<Outcome> {
    let (changes, thens): (Vec<C>, Vec<Then<T>>) = run.into_iter().unzip();
    let results = apply(service, &changes);
    answers(service, results, thens)
}

/// Each result through its `then`.
fn answers<T>(
    service: &Service,
    results: Vec<Result<T, ServiceError>>,
    thens: Vec<Then<T>>,
) -> Vec<Outcome> {
    results
        .into_iter()
        .zip(thens)
        .map(|(result, then)| then(service, result))
        .collect()
}
