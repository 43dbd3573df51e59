//! ClaudeBench's `system.*` contract against the real `coord serve`, over HTTP: its zod schemas
//! and its contract tests (`apps/server/tests/contract/system.*.contract.test.ts`,
//! `specs/001-claudebench/contracts/jsonrpc-contract.json`) written down as coord's own cases.
//! Parameters ClaudeBench refuses are refused with its -32602 and zod's issues, and change
//! nothing; ids coord could not store are kept and given back; `check_health` honours its
//! `timeout` and counts what it took back by instance; `get_state` leaves out empty lists and
//! the server itself; roles keep their order; `health`, `metrics` and `discover` answer in
//! ClaudeBench's shapes with coord's figures; coord's own methods keep their own shapes.
//! Nothing is fetched: ClaudeBench's shapes are written here.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use common::serve::{Client, Served};
use common::{Sleeper, World, strings};
use serde_json::{Value, json};
use support::RedisServer;

/// A `coord serve` on `world` that leads its fleet, and a client of it.
fn serve(world: World, extra: &[&str]) -> (Served, Client) {
    let served = Served::start(world, extra);
    let client = Client::new(&served.addr, None);
    client.wait_until_leading();
    (served, client)
}

/// zod's issue for a field that is missing.
fn required(field: &str, expected: &str) -> Value {
    json!({ "code": "invalid_type", "expected": expected, "received": "undefined",
            "path": [field], "message": "Required" })
}

/// zod's issue for a value of the wrong type at `path`.
fn wrong(path: &Value, expected: &str, received: &str) -> Value {
    json!({ "code": "invalid_type", "expected": expected, "received": received, "path": path,
            "message": format!("Expected {expected}, received {received}") })
}

/// zod's issue for an empty string where one character at least is wanted.
fn empty(field: &str) -> Value {
    json!({ "code": "too_small", "minimum": 1, "type": "string", "inclusive": true,
            "exact": false, "message": "String must contain at least 1 character(s)",
            "path": [field] })
}

/// Calls `method` with `params` and checks that it is refused as ClaudeBench refuses it:
/// -32602 "Invalid parameters" with exactly these issues.
fn refused(c: &Client, method: &str, params: &Value, issues: &[Value]) {
    let e = c.err(method, params.clone());
    assert_eq!(e["code"], -32602, "{method} {params}: {e}");
    assert_eq!(e["message"], "Invalid parameters", "{method} {params}: {e}");
    assert_eq!(e["data"], json!(issues), "{method} {params}");
}

/// The string `key` of each object of the list `v`.
fn each<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x[key].as_str().unwrap())
        .collect()
}

/// The ids `get_state` lists as instances.
fn instance_ids(c: &Client) -> Vec<String> {
    let state = c.ok("system.get_state", json!({}));
    state.get("instances").map_or_else(Vec::new, |all| {
        each(all, "id").into_iter().map(str::to_owned).collect()
    })
}

/// The instance `id` of `get_state`.
fn instance(c: &Client, id: &str) -> Value {
    let state = c.ok("system.get_state", json!({}));
    let all = state["instances"].as_array().unwrap();
    all.iter().find(|i| i["id"] == id).unwrap().clone()
}

/// Rule 1: `system.unregister` requires `instanceId`, `sessionId` (not empty) and a number
/// `timestamp`; a call without them is refused with zod's issues and ends nothing.
#[test]
fn an_unregister_claudebench_refuses_is_refused_and_ends_nothing() {
    let (_s, c) = serve(World::new(), &[]);
    c.ok(
        "system.register",
        json!({ "id": "worker-1", "roles": ["worker"] }),
    );
    let cases = [
        (
            json!({}),
            vec![
                required("instanceId", "string"),
                required("sessionId", "string"),
                required("timestamp", "number"),
            ],
        ),
        (
            json!({ "instanceId": "worker-1" }),
            vec![
                required("sessionId", "string"),
                required("timestamp", "number"),
            ],
        ),
        (
            json!({ "instanceId": "worker-1", "sessionId": "", "timestamp": 1 }),
            vec![empty("sessionId")],
        ),
        (
            json!({ "instanceId": "worker-1", "sessionId": "s", "timestamp": "now" }),
            vec![wrong(&json!(["timestamp"]), "number", "string")],
        ),
        (
            json!({ "instanceId": "", "sessionId": "s", "timestamp": 1 }),
            vec![empty("instanceId")],
        ),
        (
            json!({ "instanceId": "worker-1", "sessionId": "s", "timestamp": null }),
            vec![wrong(&json!(["timestamp"]), "number", "null")],
        ),
    ];
    for (params, issues) in &cases {
        refused(&c, "system.unregister", params, issues);
    }
    assert_eq!(
        c.ok("system.heartbeat", json!({ "instanceId": "worker-1" }))["alive"],
        true,
        "a refused unregister ends nothing"
    );
    assert!(instance_ids(&c).contains(&"worker-1".to_owned()));
    // What the hook sends at SessionEnd (a time in ms) is taken.
    assert_eq!(
        c.ok(
            "system.unregister",
            json!({ "instanceId": "worker-1", "sessionId": "claude-1", "timestamp": 1_765_000_000_000_u64 })
        ),
        json!({ "unregistered": true, "tasksReassigned": 0 })
    );
    assert_eq!(
        c.ok("system.heartbeat", json!({ "instanceId": "worker-1" }))["alive"],
        false
    );
}

/// Rule 1: `system.register` takes what ClaudeBench's schema takes (the contract test's valid
/// inputs, the hook's and the relay's calls) and refuses, with zod's issues, what it refuses
/// (the contract test's invalid inputs), registering nothing.
#[test]
fn register_takes_and_refuses_what_claudebench_does() {
    let (_s, c) = serve(World::new(), &[]);
    for params in [
        json!({ "id": "worker-1", "roles": ["worker"] }),
        json!({ "id": "monitor-1", "roles": ["monitor", "worker"] }),
        json!({ "id": "coordinator-1", "roles": [] }),
        json!({ "id": "empty-role", "roles": [""] }),
        // The hook at SessionStart: fields the schema does not name are stripped.
        json!({ "id": "hook-1", "roles": ["claude-code"], "sessionId": "s", "timestamp": 1,
                "metadata": { "projectDir": "/p", "resumeFrom": null } }),
        // The relay.
        json!({ "id": "relay-1", "roles": ["relay"], "metadata": { "workingDirectory": "/w" } }),
    ] {
        assert_eq!(
            c.ok("system.register", params.clone()),
            json!({ "registered": true }),
            "{params}"
        );
    }
    assert_eq!(
        instance(&c, "relay-1")["metadata"]["workingDirectory"],
        "/w"
    );

    let cases = [
        (
            json!({}),
            vec![required("id", "string"), required("roles", "array")],
        ),
        (
            json!({ "id": "refused-1" }),
            vec![required("roles", "array")],
        ),
        (
            json!({ "roles": ["worker"] }),
            vec![required("id", "string")],
        ),
        (json!({ "id": "", "roles": ["worker"] }), vec![empty("id")]),
        (
            json!({ "id": 123, "roles": ["worker"] }),
            vec![wrong(&json!(["id"]), "string", "number")],
        ),
        (
            json!({ "id": "refused-1", "roles": "worker" }),
            vec![wrong(&json!(["roles"]), "array", "string")],
        ),
        (
            json!({ "id": "refused-1", "roles": ["worker", 123] }),
            vec![wrong(&json!(["roles", 1]), "string", "number")],
        ),
        (
            json!({ "id": "refused-1", "roles": [], "metadata": null }),
            vec![wrong(&json!(["metadata"]), "object", "null")],
        ),
        (
            json!({ "id": "refused-1", "roles": [], "metadata": { "workingDirectory": 5 } }),
            vec![wrong(
                &json!(["metadata", "workingDirectory"]),
                "string",
                "number",
            )],
        ),
    ];
    for (params, issues) in &cases {
        refused(&c, "system.register", params, issues);
    }
    let listed = instance_ids(&c);
    assert!(!listed.iter().any(|id| id == "refused-1"), "{listed:?}");
    // Positional parameters are what zod makes of an array.
    let positional =
        c.rpc(&json!({ "jsonrpc": "2.0", "method": "system.register", "params": ["x"], "id": 1 }));
    assert_eq!(
        positional["error"]["data"],
        json!([wrong(&json!([]), "object", "array")])
    );
}

/// Rule 1: an id ClaudeBench takes and coord's session ids refuse (white space) is stored in a
/// form coord takes and given back as it was, wherever ClaudeBench shows it; heartbeat and
/// unregister take it as it was.
#[test]
fn ids_coord_refuses_are_kept_and_given_back() {
    let (_s, c) = serve(World::new(), &[]);
    let odd = [" ", "a b", "tab\there", "%cb:looks-encoded"];
    for id in odd {
        assert_eq!(
            c.ok("system.register", json!({ "id": id, "roles": ["worker"] })),
            json!({ "registered": true }),
            "{id:?}"
        );
        assert_eq!(
            c.ok("system.heartbeat", json!({ "instanceId": id }))["alive"],
            true,
            "{id:?}"
        );
    }
    let listed = instance_ids(&c);
    let health = c.ok("system.check_health", json!({}));
    for id in odd {
        assert!(listed.iter().any(|l| l == id), "{id:?} in {listed:?}");
        assert!(
            strings(&health["healthy"]).contains(&id),
            "{id:?}: {health}"
        );
    }
    // coord's own view shows the stored form.
    let sessions = c.ok("session.list", json!({}));
    let stored = each(&sessions["sessions"], "id");
    assert!(stored.contains(&"%cb:%20"), "{stored:?}");
    assert!(stored.contains(&"%cb:%25cb:looks-encoded"), "{stored:?}");

    // A task held by one of them names it as ClaudeBench knows it.
    c.ok("task.add", json!({ "id": "t-odd", "title": "x" }));
    c.ok(
        "task.claim",
        json!({ "session": "%cb:a%20b", "task": "t-odd" }),
    );
    let state = c.ok("system.get_state", json!({}));
    assert_eq!(state["tasks"][0]["assignedTo"], "a b", "{state}");

    assert_eq!(
        c.ok(
            "system.unregister",
            json!({ "instanceId": "a b", "sessionId": "s", "timestamp": 1 })
        ),
        json!({ "unregistered": true, "tasksReassigned": 1 })
    );
    assert_eq!(
        c.ok("system.heartbeat", json!({ "instanceId": "a b" }))["alive"],
        false
    );
    assert!(!instance_ids(&c).contains(&"a b".to_owned()));

    // An id too long for coord once stored is refused, with zod's custom issue.
    let long = " ".repeat(100);
    let e = c.err("system.register", json!({ "id": long, "roles": [] }));
    assert_eq!(e["message"], "Invalid parameters", "{e}");
    assert_eq!(e["data"][0]["code"], "custom", "{e}");
    assert_eq!(e["data"][0]["path"], json!(["id"]), "{e}");
}

/// Rule 1: the other methods' parameters, per their schemas: `check_health`'s `timeout` is a
/// number when present (`null` refused), `heartbeat` needs an `instanceId`, `metrics`'
/// `detailed` is a boolean and `discover`'s `domain` a string; `health` and `get_state` take
/// `{}` and, as zod's objects do, ignore keys they do not name.
#[test]
fn the_other_methods_refuse_what_their_schemas_refuse() {
    let (_s, c) = serve(World::new(), &[]);
    let cases = [
        (
            "system.check_health",
            json!({ "timeout": null }),
            vec![wrong(&json!(["timeout"]), "number", "null")],
        ),
        (
            "system.check_health",
            json!({ "timeout": "10s" }),
            vec![wrong(&json!(["timeout"]), "number", "string")],
        ),
        (
            "system.heartbeat",
            json!({}),
            vec![required("instanceId", "string")],
        ),
        (
            "system.heartbeat",
            json!({ "instanceId": "" }),
            vec![empty("instanceId")],
        ),
        (
            "system.heartbeat",
            json!({ "instanceId": 7 }),
            vec![wrong(&json!(["instanceId"]), "string", "number")],
        ),
        (
            "system.metrics",
            json!({ "detailed": "yes" }),
            vec![wrong(&json!(["detailed"]), "boolean", "string")],
        ),
        (
            "system.discover",
            json!({ "domain": 1 }),
            vec![wrong(&json!(["domain"]), "string", "number")],
        ),
    ];
    for (method, params, issues) in &cases {
        refused(&c, method, params, issues);
    }
    for timeout in [json!(10_000), json!(1.5), json!(0)] {
        assert!(
            c.ok("system.check_health", json!({ "timeout": timeout }))["healthy"].is_array(),
            "{timeout}"
        );
    }
    for method in ["system.health", "system.get_state", "system.metrics"] {
        for params in [json!({}), Value::Null, json!({ "unknown": [1], "x": null })] {
            let answer = c.call(method, params.clone());
            assert!(answer.get("error").is_none(), "{method} {params}: {answer}");
        }
    }
}

/// Rule 2: `check_health` honours `timeout`: an instance silent longer than it (by its last
/// signal on the store's clock) is failed whatever coord's verdict, which still calls it
/// active; with the default (10 s) both are healthy.
#[test]
fn check_health_fails_the_instances_silent_past_the_timeout() {
    let (_s, c) = serve(World::new(), &[]);
    for id in ["quiet-1", "busy-1"] {
        c.ok("system.register", json!({ "id": id, "roles": ["worker"] }));
    }
    std::thread::sleep(Duration::from_millis(800));
    c.ok("system.heartbeat", json!({ "instanceId": "busy-1" }));

    let health = c.ok("system.check_health", json!({ "timeout": 400 }));
    assert_eq!(strings(&health["failed"]), ["quiet-1"], "{health}");
    assert!(strings(&health["healthy"]).contains(&"busy-1"), "{health}");
    assert!(
        !strings(&health["healthy"]).contains(&"quiet-1"),
        "{health}"
    );
    assert_eq!(
        instance(&c, "quiet-1")["state"],
        "active",
        "coord's verdict is its own"
    );

    let health = c.ok("system.check_health", json!({}));
    assert_eq!(health["failed"], json!([]), "{health}");
    for id in ["quiet-1", "busy-1"] {
        assert!(strings(&health["healthy"]).contains(&id), "{health}");
    }
    assert!(
        !strings(&health["healthy"])
            .iter()
            .any(|id| id.starts_with("coord-serve@")),
        "the server is no instance: {health}"
    );
}

/// Rule 3: `reassigned` is `{instanceId: n}`, the tasks this call took back from each failed
/// instance (ClaudeBench's meaning); coord says where waiting work went in `assigned`.
#[test]
fn reassigned_counts_the_tasks_taken_from_each_failed_instance() {
    let (_s, c) = serve(World::new(), &["--grace", "0s", "--lock-delay", "0s"]);
    let mut agent = Sleeper::start();
    let pid: u32 = agent.pid().parse().unwrap();
    c.ok(
        "session.register",
        json!({ "id": "doomed", "pid": pid, "labels": { "role": "worker" } }),
    );
    c.ok(
        "system.register",
        json!({ "id": "worker-2", "roles": ["worker"] }),
    );
    for id in ["t-a", "t-b"] {
        c.ok(
            "task.add",
            json!({ "id": id, "title": id, "labels": { "role": "worker" } }),
        );
        c.ok("task.claim", json!({ "session": "doomed", "task": id }));
    }
    agent.kill();
    let health = c.ok("system.check_health", json!({ "timeout": 60_000 }));
    assert!(strings(&health["failed"]).contains(&"doomed"), "{health}");
    assert_eq!(health["reassigned"], json!({ "doomed": 2 }), "{health}");
    assert_eq!(
        health["assigned"],
        json!({ "t-a": "worker-2", "t-b": "worker-2" }),
        "{health}"
    );
    assert!(health["stale"].is_array() && health["unknown"].is_array());
    let again = c.ok("system.check_health", json!({}));
    assert_eq!(
        again["reassigned"],
        json!({}),
        "nothing more to take: {again}"
    );
}

/// Rule 4: on a fresh store `get_state` has no `tasks` and no `instances` (empty lists are
/// left out, and the server is no instance), but the log's real latest events, newest first,
/// with the leader and the log's sequence number.
#[test]
fn get_state_leaves_out_empty_lists_and_the_server_itself() {
    let (_s, c) = serve(World::new(), &[]);
    let state = c.ok("system.get_state", json!({}));
    assert!(state.get("tasks").is_none(), "{state}");
    assert!(state.get("instances").is_none(), "{state}");
    let seq = state["seq"].as_u64().unwrap();
    let recent = state["recentEvents"].as_array().unwrap();
    assert!(!recent.is_empty() && recent.len() <= 10, "{state}");
    assert_eq!(recent[0]["seq"], seq, "newest first: {state}");
    let seqs: Vec<u64> = recent.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    assert!(
        state["leader"]["instanceId"]
            .as_str()
            .unwrap()
            .starts_with("coord-serve@")
    );

    c.ok("task.add", json!({ "id": "t-1", "title": "one" }));
    c.ok(
        "system.register",
        json!({ "id": "i 1", "roles": ["worker"] }),
    );
    let state = c.ok("system.get_state", json!({}));
    assert_eq!(instance_ids(&c), ["i 1"]);
    assert_eq!(state["tasks"][0]["id"], "t-1", "{state}");
    assert_eq!(state["tasks"][0]["status"], "pending", "{state}");
    let recent = state["recentEvents"].as_array().unwrap();
    assert_eq!(recent[0]["seq"], state["seq"], "{state}");
    assert!(
        recent
            .iter()
            .any(|e| e["kind"] == "registered" && e["session"] == "i 1"),
        "its registration, under the id it was given: {state}"
    );
}

/// Rule 5: roles keep the order they were given in (ClaudeBench's contract test reads them
/// back), registering again replaces them, and they still fit tasks by role.
#[test]
fn roles_keep_their_order() {
    let (_s, c) = serve(World::new(), &[]);
    let roles = json!(["worker", "reviewer", "alpha"]);
    c.ok("system.register", json!({ "id": "r-1", "roles": roles }));
    assert_eq!(instance(&c, "r-1")["roles"], roles);
    c.ok(
        "system.register",
        json!({ "id": "r-1", "roles": ["zeta", "beta"] }),
    );
    assert_eq!(instance(&c, "r-1")["roles"], json!(["zeta", "beta"]));
    c.ok("system.register", json!({ "id": "r-1", "roles": [] }));
    assert_eq!(instance(&c, "r-1")["roles"], json!([]));

    c.ok(
        "system.register",
        json!({ "id": "r-2", "roles": ["zeta", "beta"] }),
    );
    c.ok(
        "task.add",
        json!({ "id": "for-beta", "title": "b", "labels": { "role.beta": "true" } }),
    );
    assert_eq!(
        c.err("task.claim", json!({ "session": "r-1" }))["code"],
        -32010,
        "r-1 has no role left"
    );
    assert_eq!(
        c.ok("task.claim", json!({ "session": "r-2" }))["id"],
        "for-beta"
    );
}

/// Rule 6: `system.health` follows ClaudeBench's contract (status from the services): coord's
/// store answering is `redis`, and coord has no postgres or mcp, so an answering store is
/// `degraded`; a store that does not answer is `unhealthy` with every service false, as an
/// answer (what ClaudeBench's init script needs: a result).
#[test]
fn health_says_whether_the_store_answers() {
    let redis = RedisServer::start();
    let (_s, c) = serve(World::on(redis.url().to_string()), &[]);
    let up = c.ok("system.health", json!({}));
    assert_eq!(
        up,
        json!({ "status": "degraded", "services": { "redis": true, "postgres": false, "mcp": false } })
    );
    drop(redis);
    let down = c.call("system.health", json!({}));
    assert_eq!(
        down["result"],
        json!({ "status": "unhealthy", "services": { "redis": false, "postgres": false, "mcp": false } }),
        "{down}"
    );
    // Again, with the breaker open or not.
    for _ in 0..25 {
        assert_eq!(c.ok("system.health", json!({}))["status"], "unhealthy");
    }
}

/// Rule 6: `system.metrics` gives ClaudeBench's fields from coord's real counters: calls,
/// completed tasks, mean latency, memory; with `detailed`, each method's figures, the
/// breaker's, the queue's and the instances'.
#[test]
fn metrics_are_coords_real_figures() {
    let (_s, c) = serve(World::new(), &[]);
    for id in ["m-1", "m-2"] {
        c.ok("system.register", json!({ "id": id, "roles": [] }));
    }
    c.err("system.heartbeat", json!({}));
    for id in ["a", "b", "c"] {
        c.ok("task.add", json!({ "id": id, "title": id }));
    }
    let token = c.ok("task.claim", json!({ "session": "m-1", "task": "a" }))["token"].clone();
    c.ok("task.complete", json!({ "task": "a", "token": token }));
    c.ok("task.claim", json!({ "session": "m-2", "task": "b" }));

    let m = c.ok("system.metrics", json!({}));
    assert!(m["eventsProcessed"].as_u64().unwrap() >= 9, "{m}");
    assert_eq!(m["tasksCompleted"], 1, "{m}");
    assert!(m["averageLatency"].as_f64().unwrap() >= 0.0, "{m}");
    assert!(m["memoryUsage"].as_f64().unwrap() > 0.0, "{m}");
    assert!(m.get("handlers").is_none(), "only with detailed: {m}");

    let d = c.ok("system.metrics", json!({ "detailed": true }));
    let register = &d["handlers"]["system.register"];
    assert_eq!(register["totalCalls"], 2, "{d}");
    assert_eq!(register["successCount"], 2, "{d}");
    assert_eq!(register["circuitState"], "CLOSED", "{d}");
    let heartbeat = &d["handlers"]["system.heartbeat"];
    assert_eq!(
        (&heartbeat["totalCalls"], &heartbeat["errorCount"]),
        (&json!(1), &json!(1)),
        "{d}"
    );
    assert!(
        d["handlers"].get("task.fail").is_none(),
        "never called: {d}"
    );
    assert_eq!(
        d["queue"],
        json!({ "depth": 2, "pending": 1, "throughput": 1 }),
        "{d}"
    );
    assert_eq!(d["scaling"]["instanceCount"], 2, "{d}");
    assert_eq!(d["current"]["instancesActive"], 2, "{d}");
    assert_eq!(d["current"]["tasksPending"], 1, "{d}");
    assert!(d["current"]["eventsTotal"].as_u64().unwrap() > 0, "{d}");
    assert!(
        d["current"]["metricsStartTime"].as_u64().unwrap() > 0,
        "{d}"
    );
    assert_eq!(d["circuitBreaker"]["totalTrips"], 0, "{d}");
    assert_eq!(d["circuitBreaker"]["totalFailures"], 0, "{d}");
    assert_eq!(d["circuitBreaker"]["successRate"], 100.0, "{d}");
}

/// Rule 6: `system.discover` lists every method coord serves, its description and its
/// parameters and result in ClaudeBench's simple schema form; `domain` keeps one family.
#[test]
fn discover_lists_every_method_with_its_schemas() {
    let (_s, c) = serve(World::new(), &[]);
    let all = c.ok("system.discover", json!({}));
    let methods = all["methods"].as_array().unwrap();
    let names = each(&all["methods"], "name");
    for name in [
        "system.register",
        "system.heartbeat",
        "system.unregister",
        "system.check_health",
        "system.get_state",
        "system.health",
        "system.metrics",
        "system.discover",
        "session.register",
        "session.heartbeat",
        "session.unregister",
        "session.list",
        "session.show",
        "task.add",
        "task.claim",
        "task.progress",
        "task.complete",
        "task.fail",
        "task.release",
        "task.list",
        "task.show",
        "host.list",
        "events.list",
        "events.subscribe",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.starts_with("store.")), "{names:?}");
    for m in methods {
        assert!(!m["description"].as_str().unwrap().is_empty(), "{m}");
        for schema in [&m["inputSchema"], &m["outputSchema"]] {
            assert!(schema["type"].is_string(), "{m}");
        }
        assert_eq!(m["inputSchema"]["type"], "object", "{m}");
        assert!(m["metadata"]["persist"].is_boolean(), "{m}");
    }
    let register = methods
        .iter()
        .find(|m| m["name"] == "system.register")
        .unwrap();
    assert_eq!(
        register["inputSchema"],
        json!({
            "type": "object",
            "properties": {
                "id": { "type": "string", "minLength": 1 },
                "roles": { "type": "array", "items": { "type": "string" } },
                "metadata": {
                    "type": "object",
                    "properties": { "workingDirectory": { "type": "string" } },
                    "required": [],
                },
            },
            "required": ["id", "roles"],
        })
    );
    assert_eq!(
        register["outputSchema"],
        json!({ "type": "object", "properties": { "registered": { "type": "boolean" } }, "required": ["registered"] })
    );
    let check = methods
        .iter()
        .find(|m| m["name"] == "system.check_health")
        .unwrap();
    assert_eq!(
        check["inputSchema"]["properties"]["timeout"],
        json!({ "type": "number", "default": 10_000 })
    );
    assert_eq!(check["inputSchema"]["required"], json!([]));

    let tasks = c.ok("system.discover", json!({ "domain": "task" }));
    let names = each(&tasks["methods"], "name");
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("task.")), "{names:?}");
    assert_eq!(
        c.ok("system.discover", json!({ "domain": "" }))["methods"],
        all["methods"],
        "an empty domain is none"
    );
}

/// Rule 7: coord's own methods keep their more forgiving shapes: no roles needed, and a bad
/// parameter named in `data.field`.
#[test]
fn coords_own_methods_keep_their_shapes() {
    let (_s, c) = serve(World::new(), &[]);
    assert_eq!(
        c.ok("session.register", json!({ "id": "own" }))["id"],
        "own"
    );
    let e = c.err("session.heartbeat", json!({}));
    assert_eq!(e["code"], -32602, "{e}");
    assert_eq!(e["data"], json!({ "field": "id" }), "{e}");
    let e = c.err("session.register", json!({ "id": "a b" }));
    assert_eq!(e["data"], json!({ "field": "id" }), "{e}");
    assert_eq!(
        c.ok("task.add", json!({ "title": "no labels" }))["state"],
        "pending"
    );
    let e = c.err("task.claim", json!({ "session": 1 }));
    assert_eq!(e["data"], json!({ "field": "session" }), "{e}");
}
