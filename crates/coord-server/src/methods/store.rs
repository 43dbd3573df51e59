//! `store.*`: the operations of the [`coord_store::Store`] trait, for a command line whose
//! `COORD_URL` names this server ([`coord_store::remote`]). Each call is read as a
//! [`Call`], run on a store handle of the namespace it names, and answered with the
//! operation's result. These methods carry a remote client's store, not the service's logic:
//! the client runs the service (and observes its own host), exactly as it does over Redis.

use coord_store::remote::Call;
use serde_json::{Map, Value};

use super::schema::{Field, NAME, Schema, Signature};
use super::{Named, Prepared, parse};

/// What a `store.<op>` takes and gives: the namespace and the operation's arguments; the
/// operation's result.
pub static OPERATION: Signature = Signature {
    input: Schema::Object(&[Field::required("namespace", NAME)]),
    output: Schema::Any,
    writes: true,
};
use crate::rpc::RpcError;

/// `store.<op> {namespace, …the operation's arguments}` → the operation's result.
pub fn prepare(name: &str, params: Named<'_>) -> Result<Prepared, RpcError> {
    let params: Map<String, Value> = parse(params)?;
    let (namespace, call) = Call::from_rpc(name, params).map_err(|e| {
        let why = e.to_string();
        if why.starts_with("unknown variant") {
            RpcError::method_not_found(name)
        } else {
            RpcError::invalid_params(field_of(&why), &why)
        }
    })?;
    Ok(Prepared::new("id", move |s| Ok(call.run(s.store())?)).within(namespace))
}

/// The field a serde message names ("missing field `id`"), or `params`.
fn field_of(why: &str) -> &str {
    why.split_once('`')
        .and_then(|(_, rest)| rest.split_once('`'))
        .map_or("params", |(field, _)| field)
}
