//! The server's own duty: it is a session of the fleet (`coord-serve@<host>`, source `api`),
//! renews itself and the leader lease every [`EVERY`], and while it leads it runs
//! `check_health` and hands waiting work on, so failures are found without anyone calling.
//! Its session carries [`ROLE_LABEL`], so no task is ever handed to it.
//! When it stops it ends its session and lets the lease go.

use std::sync::Arc;
use std::time::Duration;

use coord_core::{Beat, PolicyOverrides, ROLE_LABEL, Runtime, Source};
use coord_service::leader::DEFAULT_LEADER_LEASE;
use coord_service::tasks::DEFAULT_LEASE;
use coord_service::{RegisterRequest, Service, ServiceError};
use tokio::time::MissedTickBehavior;

use crate::App;
use crate::methods::system::{INSTANCE_TTL, SWEEP_LIMIT};

/// How often the server renews itself and, leading, sweeps.
pub const EVERY: Duration = Duration::from_secs(5);

/// The session id of the server on `host`.
#[must_use]
pub fn session_id(host: &str) -> String {
    format!("coord-serve@{host}")
}

/// What one round did.
struct Round {
    leads: bool,
    evicted: usize,
    released: usize,
    reassigned: usize,
    retired: usize,
}

/// Renews, leads and sweeps every [`EVERY`], for ever.
pub async fn run(app: Arc<App>, id: String) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let me = id.clone();
        match app.gate.call(app.long_budget, move |s| round(s, &me)).await {
            Ok(r) => {
                app.metrics.leader(r.leads);
                app.metrics
                    .swept(r.evicted, r.released, r.reassigned, r.retired);
                if r.evicted + r.released + r.reassigned + r.retired > 0 {
                    tracing::info!(
                        evicted = r.evicted,
                        released = r.released,
                        reassigned = r.reassigned,
                        retired = r.retired,
                        "swept the fleet"
                    );
                }
            }
            Err(e) => {
                app.metrics.leader(false);
                tracing::warn!(error = %e, "the server could not renew itself or sweep");
            }
        }
        app.limit.forget_idle();
    }
}

/// One round: renew (registering again if the store lost the session), renew or take the
/// lease, and sweep while leading.
fn round(s: &Service, id: &str) -> Result<Round, ServiceError> {
    let beat = Beat::activity(Source::Api, s.now()?);
    s.heartbeat_or_register(id, &beat, || registration(id))?;
    let mut r = Round {
        leads: s.lead(id, DEFAULT_LEADER_LEASE)?.is(id),
        evicted: 0,
        released: 0,
        reassigned: 0,
        retired: 0,
    };
    if r.leads {
        let report = s.check_health(SWEEP_LIMIT)?;
        r.evicted = report.evicted.len();
        r.released = report.released.len();
        r.retired = report.retired;
        r.reassigned = s.assign(DEFAULT_LEASE)?.len();
        s.tidy()?;
    }
    Ok(r)
}

/// The server's registration: its own process, with the TTL of an API instance.
fn registration(id: &str) -> RegisterRequest {
    RegisterRequest {
        id: Some(id.to_owned()),
        pid: Some(std::process::id()),
        runtime: Some(Runtime::Other),
        task: Some("coord serve".to_owned()),
        labels: [(ROLE_LABEL.to_owned(), "serve".to_owned())].into(),
        policy: PolicyOverrides {
            ttl: Some(INSTANCE_TTL.as_millis() as u64),
            ..PolicyOverrides::default()
        },
        source: Some(Source::Api),
        ..RegisterRequest::default()
    }
}

/// Ends the server's session and gives back the lease (and anything else it held).
pub async fn step_down(app: &App, id: String) {
    let outcome = app
        .gate
        .call(app.budget, move |s| {
            match s.unregister(&id, Source::Api) {
                Ok(_) | Err(ServiceError::NotRegistered(_)) => {}
                Err(e) => return Err(e),
            }
            s.reclaim_from(&id, "coord serve stopped", Duration::ZERO)
        })
        .await;
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "the server could not end its session");
    }
}
