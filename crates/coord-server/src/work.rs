//! The work a call runs on a service handle, and how a group of calls' works runs: in order,
//! as one group of the store's changes, with each run of like changes (heartbeats, claims,
//! holders' changes of tasks) applied together ([`coord_service::batch`]), so that a batch
//! of a hundred heartbeats waits for one round trip to a store behind a network, not a
//! hundred.

use coord_core::{Beat, Task, Timestamp};
use coord_service::batch::{Claim, Update};
use coord_service::leader::{DEFAULT_LEADER_LEASE, Leadership};
use coord_service::{Renewal, Service, ServiceError};
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

/// What a change applied with others makes of its result: the call's answer.
pub type Then<T> = Box<dyn FnOnce(Result<T, ServiceError>) -> Outcome + Send>;

/// A heartbeat applied: the session's counters, and who leads when the beat asked.
pub struct Beaten {
    /// The session.
    pub session: Renewal,
    /// Who leads, when asked.
    pub leadership: Option<Leadership>,
}

/// The work of one call.
pub enum Work {
    /// Anything, run as it is.
    Run(Box<dyn FnOnce(&Service) -> Outcome + Send>),
    /// A heartbeat of session `id`: `beat` makes it at the store's time, read once for a run
    /// of heartbeats; with `lead`, it asks for the leader lease too, asked once for the run
    /// ([`Service::lead_among`]).
    Beat {
        /// The session.
        id: String,
        /// The beat at a time of the store's clock.
        beat: Box<dyn FnOnce(Timestamp) -> Beat + Send>,
        /// Whether it asks for the leader lease.
        lead: bool,
        /// The answer.
        then: Then<Beaten>,
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
            Work::Beat {
                id,
                beat,
                lead,
                then,
            } => {
                let result = service
                    .now()
                    .and_then(|now| service.heartbeat(&id, &beat(now)))
                    .and_then(|session| {
                        let leadership = lead
                            .then(|| service.lead(&session.id, DEFAULT_LEADER_LEASE))
                            .transpose()?;
                        Ok(Beaten {
                            session,
                            leadership,
                        })
                    });
                then(result)
            }
            Work::Claim(claim, then) => {
                let result = service.task_claim(&claim.session, claim.task.as_deref(), claim.lease);
                then(result)
            }
            Work::Update(u, then) => {
                let result = service.task_update(&u.task, u.token, &u.op);
                then(result)
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
                first @ Work::Beat { .. } => {
                    let mut run = vec![first];
                    while let Some(work) = works.next_if(|w| matches!(w, Work::Beat { .. })) {
                        run.push(work);
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

/// A run of heartbeats (every one a [`Work::Beat`]), made at one reading of the store's clock,
/// the leader lease asked once for those that ask (should either fail, each tries alone and
/// fails on its own).
fn beats(service: &Service, run: Vec<Work>) -> Vec<Outcome> {
    let Ok(now) = service.now() else {
        return run.into_iter().map(|work| work.call(service)).collect();
    };
    let mut ids = Vec::with_capacity(run.len());
    let mut made = Vec::with_capacity(run.len());
    let mut asks = Vec::with_capacity(run.len());
    let mut thens = Vec::with_capacity(run.len());
    for work in run {
        let Work::Beat {
            id,
            beat,
            lead,
            then,
        } = work
        else {
            unreachable!("a run of heartbeats holds heartbeats only")
        };
        made.push(beat(now));
        ids.push(id);
        asks.push(lead);
        thens.push(then);
    }
    let pairs: Vec<(&str, &Beat)> = ids.iter().map(String::as_str).zip(&made).collect();
    let results = service.heartbeats(&pairs);
    let askers: Vec<&str> = results
        .iter()
        .zip(&asks)
        .filter_map(|(r, &ask)| Some(r.as_ref().ok().filter(|_| ask)?.id.as_str()))
        .collect();
    let shared = if askers.is_empty() {
        None
    } else {
        service.lead_among(&askers, DEFAULT_LEADER_LEASE).ok()
    };
    let beaten = results.into_iter().zip(asks).map(|(result, ask)| {
        let session = result?;
        let leadership = match (&shared, ask) {
            (_, false) => None,
            (Some(l), true) => Some(l.clone()),
            (None, true) => Some(service.lead(&session.id, DEFAULT_LEADER_LEASE)?),
        };
        Ok(Beaten {
            session,
            leadership,
        })
    });
    answers(beaten, thens)
}

/// A run of like changes applied together by `apply`, each result through its `then`.
fn applied<C, T>(
    service: &Service,
    run: Vec<(C, Then<T>)>,
    apply: impl FnOnce(&Service, &[C]) -> Vec<Result<T, ServiceError>>,
) -> Vec<Outcome> {
    let (changes, thens): (Vec<C>, Vec<Then<T>>) = run.into_iter().unzip();
    answers(apply(service, &changes), thens)
}

/// Each result through its `then`.
fn answers<T>(
    results: impl IntoIterator<Item = Result<T, ServiceError>>,
    thens: Vec<Then<T>>,
) -> Vec<Outcome> {
    results
        .into_iter()
        .zip(thens)
        .map(|(result, then)| then(result))
        .collect()
}
