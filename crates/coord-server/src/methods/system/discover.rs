//! `system.discover`: every method coord serves (`system.*`, `session.*`, `task.*`, `host.*`,
//! `events.*`) with what it is for and what it takes and gives, read from the method table
//! ([`Method::about`], [`Method::signature`]), in the form ClaudeBench's discover gives
//! (`{name, description, inputSchema, outputSchema, metadata}`, the schemas as `{type:
//! "object", properties, required}`). `store.*`, which carries a remote command line's store
//! and is no API of its own, is not listed.

use serde::Deserialize;
use serde_json::{Value, json};

use super::params;
use crate::methods::schema::{Field, STRING, Schema, Signature};
use crate::methods::{Method, Prepared};
use crate::rpc::{Params, RpcError};

/// One method as `discover` describes it.
const DESCRIBED: Schema = Schema::Object(&[
    Field::required("name", STRING),
    Field::optional("description", STRING),
    Field::optional("inputSchema", Schema::Any),
    Field::optional("outputSchema", Schema::Any),
    Field::optional(
        "metadata",
        Schema::Object(&[Field::optional("persist", Schema::Boolean)]),
    ),
]);

/// What `system.discover` takes and gives.
pub static DISCOVER: Signature = Signature {
    input: Schema::Object(&[Field::optional("domain", STRING)]),
    output: Schema::Object(&[Field::required("methods", Schema::Array(&DESCRIBED))]),
    writes: false,
};

#[derive(Deserialize)]
struct DiscoverParams {
    domain: Option<String>,
}

/// `system.discover {domain?}` → `{methods}`: every method, or with a `domain` (`task`) those
/// whose name starts with it and a dot. `metadata.persist` says whether a call changes the
/// store. The answer needs no store.
pub fn discover(params: Params<'_>) -> Result<Prepared, RpcError> {
    let p: DiscoverParams = params::read(params, &DISCOVER.input)?;
    let prefix = p.domain.filter(|d| !d.is_empty()).map(|d| format!("{d}."));
    let methods: Vec<Value> = Method::ALL
        .iter()
        .filter(|&&m| m != Method::Store)
        .filter(|m| prefix.as_ref().is_none_or(|p| m.name().starts_with(p)))
        .map(|&m| described(m))
        .collect();
    Ok(Prepared::constant(json!({ "methods": methods })))
}

fn described(m: Method) -> Value {
    let Signature {
        input,
        output,
        writes,
    } = m.signature();
    json!({
        "name": m.name(),
        "description": m.about(),
        "inputSchema": input.to_json(),
        "outputSchema": output.to_json(),
        "metadata": { "persist": writes },
    })
}
