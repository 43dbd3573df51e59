//! The ClaudeBench `system.*` family, so ClaudeBench instances and its web client work
//! unchanged: the same method names, parameters checked as ClaudeBench's zod schemas check
//! them ([`params`]) and results of the same shapes (see `shared/design/claudebench-compat.md`),
//! without its bugs. This file is the instances' own methods: `register`, `heartbeat` and
//! `unregister`; [`health`] has `check_health` and `health`, [`state`] `get_state` and
//! `metrics`, [`discover`] `discover`; [`ids`] maps ClaudeBench's ids to coord's.
//!
//! An instance is a coord session registered by the API (source `api`, runtime `other`, no
//! process), with a 30 s TTL of its own, since ClaudeBench instances promise a heartbeat every
//! 10 to 15 s. Its roles are kept in order, as given, in the label [`ROLES_LABEL`] (their JSON),
//! and become the labels tasks are fitted by (`role=<first role>`, and `role.<r>=true` for
//! each), so tasks labelled with a role go to instances that have it;
//! `metadata.workingDirectory` is its working directory. The server's own session is not an
//! instance ([`instances`]).
//!
//! Unlike ClaudeBench: a heartbeat always renews (no cache), an unregister takes back the
//! instance's tasks (whatever their holder's role), `check_health` hands waiting work to any
//! live instance whose labels fit, and `get_state` returns typed objects.

pub mod discover;
pub mod health;
pub mod ids;
pub mod params;
pub mod state;

use std::collections::BTreeMap;
use std::time::Duration;

use coord_core::{Beat, PolicyOverrides, ROLE_LABEL, Runtime, Source, State};
use coord_service::{Entry, Fleet, MAX_ID_BYTES, RegisterRequest, ServiceError};
use serde::Deserialize;
use serde_json::json;

use super::schema::{Field, NAME, STRING, Schema, Signature};
use super::{Answer, Context, Prepared, Work};
use crate::rpc::{Params, RpcError};
use crate::work::{Beaten, Then};

/// The TTL of an API instance: ClaudeBench's, twice its longest heartbeat interval.
pub const INSTANCE_TTL: Duration = Duration::from_secs(30);

/// The most quiet sessions one `check_health` examines.
pub const SWEEP_LIMIT: usize = 10_000;

/// The label that keeps an instance's roles, in order: their JSON, as ClaudeBench stores them.
pub const ROLES_LABEL: &str = "claudebench.roles";

/// The parameters that name an instance.
const INSTANCE: Schema = Schema::Object(&[Field::required("instanceId", NAME)]);

/// What `system.register` takes and gives.
pub static REGISTER: Signature = Signature {
    input: Schema::Object(&[
        Field::required("id", NAME),
        Field::required("roles", Schema::Array(&STRING)),
        Field::optional(
            "metadata",
            Schema::Object(&[Field::optional("workingDirectory", STRING)]),
        ),
    ]),
    output: Schema::Object(&[Field::required("registered", Schema::Boolean)]),
    writes: true,
};

/// What `system.heartbeat` takes and gives (`isLeader` is coord's).
pub static HEARTBEAT: Signature = Signature {
    input: INSTANCE,
    output: Schema::Object(&[
        Field::required("alive", Schema::Boolean),
        Field::optional("isLeader", Schema::Boolean),
    ]),
    writes: true,
};

/// What `system.unregister` takes and gives.
pub static UNREGISTER: Signature = Signature {
    input: Schema::Object(&[
        Field::required("instanceId", NAME),
        Field::required("sessionId", NAME),
        Field::required("timestamp", Schema::Number),
    ]),
    output: Schema::Object(&[
        Field::required("unregistered", Schema::Boolean),
        Field::optional("tasksReassigned", Schema::Number),
    ]),
    writes: true,
};

#[derive(Deserialize)]
struct RegisterParams {
    id: String,
    roles: Vec<String>,
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    working_directory: Option<String>,
}

/// The parameters of the methods that name an instance (`sessionId` and `timestamp` of
/// `unregister` are checked, not used: coord times the end on the store's clock).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceParams {
    instance_id: String,
}

/// `system.register {id, roles, metadata?}` → `{registered: true}`.
pub fn register(params: Params<'_>) -> Result<Prepared, RpcError> {
    let p: RegisterParams = params::read(params, &REGISTER.input)?;
    let id = ids::stored(&p.id).into_owned();
    if id.len() > MAX_ID_BYTES {
        return Err(params::invalid(vec![params::custom(
            "id",
            format!(
                "coord keeps ids of at most {MAX_ID_BYTES} bytes; this one takes {} as stored",
                id.len()
            ),
        )]));
    }
    let cwd = p.metadata.and_then(|m| m.working_directory);
    let req = RegisterRequest {
        id: Some(id),
        runtime: Some(Runtime::Other),
        cwd: cwd.map(Into::into),
        labels: role_labels(&p.roles),
        policy: PolicyOverrides {
            ttl: Some(INSTANCE_TTL.as_millis() as u64),
            ..PolicyOverrides::default()
        },
        source: Some(Source::Api),
        ..RegisterRequest::default()
    };
    Ok(Prepared::change(
        "id",
        Work::run(move |s| {
            s.register(req)?;
            Ok(Answer::later(|| json!({ "registered": true })))
        }),
    )
    .or_else(json!({ "registered": false })))
}

/// `system.heartbeat {instanceId}` → `{alive, isLeader}`: `alive` false (not an error) for an
/// instance that is not registered; `isLeader` renews the leader lease, or takes it if nobody
/// holds it.
pub fn heartbeat(params: Params<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: InstanceParams = params::read(params, &HEARTBEAT.input)?;
    let metrics = ctx.metrics.clone();
    let then: Then<Beaten> = Box::new(move |beaten| {
        let leads = match beaten {
            Ok(Beaten {
                session,
                leadership,
            }) => leadership.is_some_and(|l| l.is(&session.id)),
            Err(ServiceError::NotRegistered(_)) => {
                return Ok(Answer::later(
                    || json!({ "alive": false, "isLeader": false }),
                ));
            }
            Err(e) => return Err(e),
        };
        metrics.heartbeats(1);
        Ok(Answer::later(
            move || json!({ "alive": true, "isLeader": leads }),
        ))
    });
    let beat = Box::new(|now| Beat::activity(Source::Api, now));
    Ok(Prepared::change(
        "instanceId",
        Work::Beat {
            id: ids::stored(&p.instance_id).into_owned(),
            beat,
            lead: true,
            then,
        },
    )
    .or_else(json!({ "alive": false, "isLeader": false })))
}

/// `system.unregister {instanceId, sessionId, timestamp}` → `{unregistered: true,
/// tasksReassigned: n}`: ends the instance and takes back the tasks it held (they wait the
/// lock-delay, then go to the next live instance that fits). An unknown instance is not an
/// error. As in ClaudeBench, all three parameters are required (the ids not empty, the time a
/// number), and a call without them changes nothing.
pub fn unregister(params: Params<'_>, ctx: &Context) -> Result<Prepared, RpcError> {
    let p: InstanceParams = params::read(params, &UNREGISTER.input)?;
    let metrics = ctx.metrics.clone();
    let id = ids::stored(&p.instance_id).into_owned();
    Ok(Prepared::change(
        "instanceId",
        Work::run(move |s| {
            match s.unregister(&id, Source::Api) {
                Ok(_) | Err(ServiceError::NotRegistered(_)) => {}
                Err(e) => return Err(e),
            }
            let why = format!("its holder {id} unregistered");
            let taken = s.reclaim_from(&id, &why, s.policy().lock_delay)?;
            metrics.swept(0, taken.len(), 0, 0);
            Ok(Answer::later(
                move || json!({ "unregistered": true, "tasksReassigned": taken.len() }),
            ))
        }),
    )
    .or_else(json!({ "unregistered": false, "tasksReassigned": 0 })))
}

/// The fleet's entries ClaudeBench would call instances: every session not ended, but the
/// server's own (coord itself, labelled [`ROLE_LABEL`]).
pub fn instances(fleet: &Fleet) -> impl Iterator<Item = &Entry> {
    fleet
        .entries
        .iter()
        .filter(|e| e.verdict.state != State::Ended && !e.session.labels.contains_key(ROLE_LABEL))
}

/// The labels that carry roles: [`ROLES_LABEL`] (the list, in order), `role=<first role>`,
/// and `role.<r>=true` for every role.
fn role_labels(roles: &[String]) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = roles
        .iter()
        .map(|r| (format!("role.{r}"), "true".to_owned()))
        .collect();
    if let Some(first) = roles.first() {
        labels.insert("role".to_owned(), first.clone());
    }
    labels.insert(ROLES_LABEL.to_owned(), json!(roles).to_string());
    labels
}

/// The roles the labels carry: the list as registered, or for a session registered otherwise
/// (`coord register --label role=…`), the first role then the others by name.
fn roles_of(labels: &BTreeMap<String, String>) -> Vec<String> {
    if let Some(roles) = labels
        .get(ROLES_LABEL)
        .and_then(|l| serde_json::from_str(l).ok())
    {
        return roles;
    }
    let first = labels.get("role");
    first
        .into_iter()
        .cloned()
        .chain(
            labels
                .keys()
                .filter_map(|k| k.strip_prefix("role."))
                .filter(|r| Some(*r) != first.map(String::as_str))
                .map(str::to_owned),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_keep_their_order_through_the_labels() {
        let roles = vec!["worker".to_owned(), "reviewer".to_owned(), "a".to_owned()];
        let labels = role_labels(&roles);
        assert_eq!(labels["role"], "worker");
        assert_eq!(labels["role.reviewer"], "true");
        assert_eq!(labels[ROLES_LABEL], r#"["worker","reviewer","a"]"#);
        assert_eq!(roles_of(&labels), roles);
        assert!(roles_of(&role_labels(&[])).is_empty());
    }

    #[test]
    fn roles_of_a_session_labelled_by_hand_come_first_role_first() {
        let labels: BTreeMap<String, String> = [
            ("role", "worker"),
            ("role.worker", "true"),
            ("role.b", "true"),
            ("role.a", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(roles_of(&labels), ["worker", "a", "b"]);
    }
}
