//! coord's own `host.*` methods, mirroring the command line: `host.list` is `coord hosts
//! --json` (the same document): every host of the namespace with its last signal, since when
//! it has been heard without a gap, its state as the service judges it, and its sessions.

use coord_service::json as shapes;
use serde_json::{Value, json};

use super::{Context, Prepared};

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
