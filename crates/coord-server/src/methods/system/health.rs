//! How the fleet and the server stand: `system.check_health`, which sweeps the fleet and says
//! which instances are healthy and which failed, and `system.health`, whether the server's
//! services answer.
//!
//! `check_health` runs coord's sweep (the same as the leader's), then judges each instance by
//! coord's verdict and by the caller's `timeout` (ClaudeBench's, 10 s by default): an instance
//! silent longer than that, by its last signal of any kind on the store's clock, is failed
//! whatever its verdict, and so is a dead one. The timeout decides only what is listed: the
//! work of an instance is taken back by coord's verdict alone (dead past the grace period).
//!
//! `health` maps ClaudeBench's services onto coord's: `redis` is whether coord's store answers
//! a read (of the leader lease), whatever its backend, since the store holds for coord what
//! Redis holds for ClaudeBench; `postgres` and `mcp` are false (coord has neither). As
//! ClaudeBench's contract has it, the status follows the services: all up is `healthy`, some
//! `degraded`, none `unhealthy`; so a coord whose store answers is `degraded`, and one whose
//! store does not is `unhealthy` (an answer, not an error, even when the breaker is open).
//! ClaudeBench's init script asks `health` before it connects and needs only a result.

use std::collections::BTreeMap;

use coord_core::State;
use coord_service::tasks::DEFAULT_LEASE;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::ids::shown;
use super::{SWEEP_LIMIT, instances, params};
use crate::methods::schema::{Field, NOTHING, STRING, Schema, Signature};
use crate::methods::{Context, Prepared};
use crate::rpc::{Params, RpcError};

/// ClaudeBench's default `timeout` of `check_health`, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// A list of instance ids.
const IDS: Schema = Schema::Array(&STRING);

/// What `system.check_health` takes and gives (`stale`, `unknown` and `assigned` are coord's).
pub static CHECK_HEALTH: Signature = Signature {
    input: Schema::Object(&[Field::defaulted("timeout", DEFAULT_TIMEOUT_MS)]),
    output: Schema::Object(&[
        Field::required("healthy", IDS),
        Field::required("failed", IDS),
        Field::required("reassigned", Schema::Record(&Schema::Number)),
        Field::optional("stale", IDS),
        Field::optional("unknown", IDS),
        Field::optional("assigned", Schema::Record(&STRING)),
    ]),
    writes: true,
};

/// What `system.health` takes and gives.
pub static HEALTH: Signature = Signature {
    input: NOTHING,
    output: Schema::Object(&[
        Field::required(
            "status",
            Schema::Enum(&["healthy", "degraded", "unhealthy"]),
        ),
        Field::required(
            "services",
            Schema::Object(&[
                Field::required("redis", Schema::Boolean),
                Field::required("postgres", Schema::Boolean),
                Field::required("mcp", Schema::Boolean),
            ]),
        ),
    ]),
    writes: false,
};

#[derive(Deserialize)]
struct CheckParams {
    timeout: Option<f64>,
}

/// `system.check_health {timeout?}` → `{healthy, failed, reassigned: {instanceId: n}}`, with
/// `stale` and `unknown` (instances neither healthy nor failed) and `assigned` (`{taskId:
/// instanceId}`, the waiting tasks this call handed on): a sweep (evicting the dead past the
/// grace period and taking back their work), the leader lease handed on if it was lost, and
/// the waiting tasks handed to live instances. `failed` lists the dead (evicted or not) and
/// the instances silent longer than `timeout` ms; `reassigned` counts, for each instance, the
/// tasks this call took back from it, as ClaudeBench counts the tasks of each failed instance.
pub fn check_health(params: Params<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: CheckParams = params::read(params, &CHECK_HEALTH.input)?;
    let timeout = p.timeout.unwrap_or(f64::from(DEFAULT_TIMEOUT_MS));
    let metrics = ctx.metrics.clone();
    Ok(Prepared::new("id", move |s| {
        let report = s.check_health(SWEEP_LIMIT)?;
        let assigned = s.assign(DEFAULT_LEASE)?;
        metrics.swept(
            report.evicted.len(),
            report.released.len(),
            assigned.len(),
            report.retired,
        );
        let fleet = s.fleet()?;
        let (mut healthy, mut failed, mut stale, mut unknown) = (vec![], vec![], vec![], vec![]);
        for e in instances(&fleet) {
            let silent = fleet.now.since(e.session.last_seen).as_secs_f64() * 1000.0 > timeout;
            let list = match e.verdict.state {
                _ if silent => &mut failed,
                State::Dead => &mut failed,
                State::Stale => &mut stale,
                State::Unknown => &mut unknown,
                _ => &mut healthy,
            };
            list.push(shown(&e.session.id).into_owned());
        }
        failed.extend(report.evicted.iter().map(|(id, _)| shown(id).into_owned()));
        failed.sort_unstable();
        failed.dedup();
        let mut reassigned: BTreeMap<String, usize> = BTreeMap::new();
        for r in &report.released {
            *reassigned.entry(shown(&r.holder).into_owned()).or_default() += 1;
        }
        let assigned: BTreeMap<&str, String> = assigned
            .iter()
            .map(|(task, to)| (task.as_str(), shown(to).into_owned()))
            .collect();
        Ok(json!({
            "healthy": healthy,
            "failed": failed,
            "reassigned": reassigned,
            "stale": stale,
            "unknown": unknown,
            "assigned": assigned,
        }))
    })
    .or_else(json!({ "healthy": [], "failed": [], "reassigned": {} })))
}

/// `system.health {}` → `{status, services: {redis, postgres, mcp}}`.
pub fn health(params: Params<'_>) -> Result<Prepared, RpcError> {
    params::read::<IgnoredAny>(params, &HEALTH.input)?;
    Ok(Prepared::new("id", |s| {
        s.leadership()?;
        Ok(services(true))
    })
    .or_else_when_down(services(false)))
}

/// The answer of `health` when the store answers or not.
fn services(store: bool) -> Value {
    let (redis, postgres, mcp) = (store, false, false);
    let status = match (redis && postgres && mcp, redis || postgres || mcp) {
        (true, _) => "healthy",
        (false, true) => "degraded",
        (false, false) => "unhealthy",
    };
    json!({
        "status": status,
        "services": { "redis": redis, "postgres": postgres, "mcp": mcp },
    })
}
