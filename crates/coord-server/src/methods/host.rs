//! coord's own `host.*` methods, mirroring the command line: `host.list` is `coord hosts
//! --json` (the same document): every host of the namespace with its last signal, since when
//! it has been heard without a gap, its state as the service judges it, and its sessions.

use coord_service::json as shapes;
use serde_json::{Value, json};

use super::schema::{Field, NOTHING, OBJECT, STRING, Schema, Signature};
use super::{Context, Prepared};

/// What `host.list` takes and gives.
pub static LIST: Signature = Signature {
    input: NOTHING,
    output: Schema::Object(&[
        Field::required("now_ms", Schema::Number),
        Field::required("namespace", STRING),
        Field::required("hosts", Schema::Array(&OBJECT)),
    ]),
    writes: false,
};

/// `host.list {}` → the document of `coord hosts --json`: `{now, now_ms, namespace, hosts}`,
/// the hosts by name.
pub fn list(ctx: &Context) -> Prepared {
    let namespace = ctx.namespace.clone();
    Prepared::new("id", move |s| {
        let (now, hosts) = s.host_table()?;
        let hosts: Vec<Value> = hosts.iter().map(shapes::host).collect();
        Ok(shapes::document(
            now,
            json!({ "namespace": namespace, "hosts": hosts }),
        ))
    })
}
