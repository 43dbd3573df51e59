//! `coord serve` end to end: the real binary on a free loopback port, a private store per test,
//! spoken to over HTTP (a blocking client) and WebSocket: the ClaudeBench `system.*` shapes,
//! coord's own methods, JSON-RPC batches, notifications and ids, every error code the server
//! gives, the rate limit, the token, live events, a store that fails, and a bounded fuzz run.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::serve::{Client, Served};
use common::{Rng, Sleeper, World, strings as ids};
use serde_json::{Value, json};
use support::RedisServer;
use tungstenite::stream::MaybeTlsStream;

/// A running `coord serve` on a world's store, with a client, killed when dropped.
struct Server {
    served: Served,
    addr: String,
    client: Client,
}

impl std::ops::Deref for Server {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Server {
    /// Starts `coord serve --listen 127.0.0.1:0 <extra>` and waits until it leads its fleet.
    fn start(world: World, extra: &[&str]) -> Self {
        let process = Served::start(world, extra);
        let token = extra
            .iter()
            .position(|a| *a == "--token")
            .map(|i| extra[i + 1].to_owned());
        let server = Self {
            addr: process.addr.clone(),
            client: Client::new(&process.addr, token),
            served: process,
        };
        server.wait_until_leading();
        server
    }

    /// A WebSocket on /ws, reading with a timeout.
    fn ws(&self) -> Ws {
        let (mut socket, _) = tungstenite::connect(format!("ws://{}/ws", self.addr)).unwrap();
        if let MaybeTlsStream::Plain(s) = socket.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        }
        Ws(socket)
    }

    fn alive(&mut self) -> bool {
        self.served.alive()
    }
}

struct Ws(tungstenite::WebSocket<MaybeTlsStream<std::net::TcpStream>>);

impl Ws {
    fn send(&mut self, v: &Value) {
        self.0
            .send(tungstenite::Message::Text(v.to_string().into()))
            .unwrap();
    }

    fn next(&mut self) -> Value {
        loop {
            if let tungstenite::Message::Text(t) = self.0.read().unwrap() {
                return serde_json::from_str(t.as_str()).unwrap();
            }
        }
    }

    /// Reads event notifications until one matches `want`; returns all read up to it.
    fn events_until(&mut self, want: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let n = self.next();
            assert_eq!(n["method"], "events.event", "{n}");
            assert!(n.get("id").is_none(), "a notification has no id: {n}");
            let done = want(&n["params"]);
            seen.push(n["params"].clone());
            if done {
                return seen;
            }
        }
    }
}

#[test]
fn system_methods_answer_with_claudebench_shapes() {
    let s = Server::start(World::new(), &[]);
    let registered = s.ok(
        "system.register",
        json!({ "id": "worker-1", "roles": ["worker", "reviewer"],
                "metadata": { "workingDirectory": "/tmp", "projectDir": "/x" },
                "sessionId": "ignored", "timestamp": 1 }),
    );
    assert_eq!(registered, json!({ "registered": true }));
    assert_eq!(
        s.ok("system.heartbeat", json!({ "instanceId": "worker-1" })),
        json!({ "alive": true, "isLeader": false })
    );
    assert_eq!(
        s.ok("system.heartbeat", json!({ "instanceId": "nobody" })),
        json!({ "alive": false, "isLeader": false })
    );

    for params in [json!({}), Value::Null] {
        let state = s.ok("system.get_state", params);
        assert!(state["seq"].as_u64().unwrap() >= 2, "{state}");
        assert!(state.get("tasks").is_none(), "no tasks, no list: {state}");
        let leader = state["leader"]["instanceId"].as_str().unwrap();
        assert!(leader.starts_with("coord-serve@"), "{state}");
        let instances = state["instances"].as_array().unwrap();
        let w = instances.iter().find(|i| i["id"] == "worker-1").unwrap();
        assert_eq!(w["roles"], json!(["worker", "reviewer"]));
        assert_eq!(w["status"], "ACTIVE");
        assert_eq!(w["isLeader"], false);
        assert!(w["lastSeen"].as_i64().unwrap() > 0);
        assert_eq!(w["metadata"]["workingDirectory"], "/tmp");
        assert_eq!(w["runtime"], "other");
        assert!(
            instances.iter().all(|i| i["id"] != leader),
            "the server is no instance: {state}"
        );
    }

    // Registering again replaces the roles (ClaudeBench's contract test).
    s.ok(
        "system.register",
        json!({ "id": "worker-1", "roles": ["reviewer"] }),
    );
    let state = s.ok("system.get_state", json!({}));
    let w = state["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "worker-1")
        .unwrap()
        .clone();
    assert_eq!(w["roles"], json!(["reviewer"]));

    let health = s.ok("system.check_health", json!({ "timeout": 30_000 }));
    assert!(ids(&health["healthy"]).contains(&"worker-1"), "{health}");
    assert_eq!(health["failed"], json!([]));
    assert_eq!(health["reassigned"], json!({}));
    // A scrape judges the fleet: the next one counts what changed since.
    let (status, _) = s.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        s.ok(
            "system.unregister",
            json!({ "instanceId": "worker-1", "sessionId": "s", "timestamp": 1 })
        ),
        json!({ "unregistered": true, "tasksReassigned": 0 })
    );
    assert_eq!(
        s.ok("system.heartbeat", json!({ "instanceId": "worker-1" })),
        json!({ "alive": false, "isLeader": false }),
        "no cache: an ended instance is not alive"
    );
    assert_eq!(
        s.ok(
            "system.unregister",
            json!({ "instanceId": "never-was", "sessionId": "s", "timestamp": 1 })
        ),
        json!({ "unregistered": true, "tasksReassigned": 0 })
    );
    let state = s.ok("system.get_state", json!({}));
    assert!(
        state.get("instances").is_none(),
        "ended instances are not listed: {state}"
    );

    let (status, body) = s.get("/healthz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ok"
    );
    let (status, metrics) = s.get("/metrics");
    assert_eq!(status, 200);
    for line in [
        "coord_sessions{state=\"active\"} 1",
        "coord_sessions{state=\"ended\"} 1",
        "coord_heartbeats_total 1",
        "coord_breaker_state 0",
        "coord_rpc_request_duration_seconds_count{method=\"system.heartbeat\"} 3",
        "coord_leader 1",
        "coord_transitions_total{from=\"active\",to=\"ended\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

/// What ClaudeBench refuses, coord refuses too, and a refused call changes nothing.
#[test]
fn system_calls_claudebench_would_refuse_are_refused_and_change_nothing() {
    let s = Server::start(World::new(), &[]);
    s.ok(
        "system.register",
        json!({ "id": "worker-1", "roles": ["worker"] }),
    );
    for timeout in [json!(null), json!("10s")] {
        let refused = s.err("system.check_health", json!({ "timeout": timeout }));
        assert_eq!(refused["code"], -32602, "timeout {timeout}: {refused}");
    }

    // As ClaudeBench: an unregister without its instance, session and time is refused, and
    // changes nothing.
    for params in [
        json!({ "instanceId": "worker-1" }),
        json!({ "instanceId": "worker-1", "sessionId": "", "timestamp": 1 }),
        json!({ "instanceId": "worker-1", "sessionId": "s", "timestamp": "now" }),
        json!({ "instanceId": "", "sessionId": "s", "timestamp": 1 }),
    ] {
        let refused = s.err("system.unregister", params.clone());
        assert_eq!(refused["code"], -32602, "{params}: {refused}");
    }
    assert_eq!(
        s.ok("system.heartbeat", json!({ "instanceId": "worker-1" }))["alive"],
        true,
        "a refused unregister ends nothing"
    );
}

#[test]
fn check_health_evicts_the_dead_and_hands_their_work_to_the_living() {
    let s = Server::start(World::new(), &["--grace", "0s", "--lock-delay", "0s"]);
    let mut agent = Sleeper::start();
    let pid: u32 = agent.pid().parse().unwrap();
    s.ok(
        "session.register",
        json!({ "id": "doomed", "pid": pid, "labels": { "role": "worker" } }),
    );
    s.ok(
        "system.register",
        json!({ "id": "worker-2", "roles": ["worker"] }),
    );
    let task = s.ok(
        "task.add",
        json!({ "title": "migrate", "labels": { "role": "worker" } }),
    );
    let task_id = task["id"].as_str().unwrap().to_owned();
    let claimed = s.ok(
        "task.claim",
        json!({ "session": "doomed", "task": task_id }),
    );
    assert_eq!(claimed["session"], "doomed");
    let token = claimed["token"].as_u64().unwrap();

    agent.kill();
    let health = s.ok("system.check_health", json!({}));
    assert!(ids(&health["failed"]).contains(&"doomed"), "{health}");
    assert!(ids(&health["healthy"]).contains(&"worker-2"), "{health}");
    assert_eq!(
        health["reassigned"],
        json!({ "doomed": 1 }),
        "taken from the dead"
    );
    assert_eq!(health["assigned"], json!({ task_id.clone(): "worker-2" }));

    // The zombie's token is refused; the new holder's is not.
    let refused = s.err("task.complete", json!({ "task": task_id, "token": token }));
    assert_eq!(refused["code"], -32005, "{refused}");
    let state = s.ok("system.get_state", json!({}));
    let t = &state["tasks"][0];
    assert_eq!(t["status"], "in_progress");
    assert_eq!(t["assignedTo"], "worker-2");

    // Unregistering takes its work back.
    assert_eq!(
        s.ok(
            "system.unregister",
            json!({ "instanceId": "worker-2", "sessionId": "s", "timestamp": 1 })
        ),
        json!({ "unregistered": true, "tasksReassigned": 1 })
    );
    assert_eq!(
        s.ok("task.show", json!({ "task": task_id }))["state"],
        "pending"
    );
}

#[test]
fn coord_methods_mirror_the_command_line() {
    let world = World::new();
    let cli = World::on(world.url());
    let s = Server::start(world, &[]);
    let agent = Sleeper::start();
    let pid: u32 = agent.pid().parse().unwrap();
    let reg = s.ok(
        "session.register",
        json!({ "id": "builder", "pid": pid, "task": "build", "ttl": 60_000 }),
    );
    assert_eq!(reg, json!({ "id": "builder", "incarnation": 1 }));
    let beat = s.ok(
        "session.heartbeat",
        json!({ "id": "builder", "phase": "in-tool", "tool": "cargo", "lead": true }),
    );
    assert_eq!(beat["beats"], 1);
    assert_eq!(beat["leader"], false);
    assert!(
        beat["leaderId"]
            .as_str()
            .unwrap()
            .starts_with("coord-serve@")
    );

    let show = s.ok("session.show", json!({ "id": "builder" }));
    assert_eq!(show["session"]["state"], "in-tool");
    assert_eq!(show["session"]["tool"], "cargo");
    assert_eq!(show["session"]["policy"]["ttl"], 60_000);
    assert!(show["now_ms"].as_i64().unwrap() > 0);
    let list = s.ok("session.list", json!({}));
    let from_cli = cli.ps();
    let names = |doc: &Value| -> Vec<(String, String)> {
        doc["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["id"].as_str().unwrap().into(),
                    x["state"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(names(&list), names(&from_cli));
    assert_eq!(list["namespace"], "default");
    assert_eq!(
        names(&s.ok("session.list", json!({ "state": ["in-tool"] }))),
        [("builder".to_owned(), "in-tool".to_owned())]
    );

    let added = s.ok(
        "task.add",
        json!({ "title": "ship it", "id": "ship", "maxAttempts": 2 }),
    );
    assert_eq!(
        (added["id"].as_str(), added["state"].as_str()),
        (Some("ship"), Some("pending"))
    );
    assert_eq!(added["max_attempts"], 2);
    let claim = s.ok(
        "task.claim",
        json!({ "session": "builder", "lease": 60_000 }),
    );
    let token = claim["token"].as_u64().unwrap();
    let progressed = s.ok(
        "task.progress",
        json!({ "task": "ship", "token": token, "details": { "step": 3 } }),
    );
    assert_eq!(progressed["progress"], json!({ "step": 3 }));
    let done = s.ok("task.complete", json!({ "task": "ship", "token": token }));
    assert_eq!(done["state"], "done");
    assert_eq!(s.ok("task.list", json!({}))["tasks"][0]["id"], "ship");
    let listed = cli.ok(&["task", "list", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&listed).unwrap()["tasks"][0]["state"],
        "done"
    );

    let events = s.ok("events.list", json!({ "since": 0, "limit": 1000 }))["events"].clone();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["session"] == "builder")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..3], ["registered", "phase", "claimed"], "{events}");

    assert_eq!(
        s.ok("session.unregister", json!({ "id": "builder" })),
        json!({ "id": "builder", "incarnation": 1, "ended": true })
    );
    assert_eq!(
        s.err("session.heartbeat", json!({ "id": "builder" }))["code"],
        -32004
    );
}

#[test]
fn host_list_is_the_document_of_coord_hosts() {
    let s = Server::start(World::new(), &[]);
    let w = &s.served.world;
    w.on_host(
        "laptop",
        &["register", "--id", "away", "--task", "on the laptop"],
    );
    w.on_host("laptop", &["host", "sleep"]);
    let listed = s.ok("host.list", json!({}));
    let printed: Value = serde_json::from_str(&w.ok(&["hosts", "--json"])).unwrap();
    assert_eq!(listed["namespace"], "default");
    assert!(listed["now_ms"].as_i64().unwrap() > 0, "{listed}");
    // The same hosts in the same shape; times and reasons move between the two readings.
    let hosts = |doc: &Value| -> Vec<Value> {
        let hosts = doc["hosts"].as_array().unwrap().iter();
        hosts
            .map(|h| {
                let fields: Vec<&String> = h.as_object().unwrap().keys().collect();
                json!({ "name": h["name"], "state": h["state"], "sessions": h["sessions"],
                        "said": h["notice"]["kind"], "fields": fields })
            })
            .collect()
    };
    let listed = hosts(&listed);
    assert_eq!(listed, hosts(&printed));
    let laptop = listed.iter().find(|h| h["name"] == "laptop").unwrap();
    assert_eq!(laptop["state"], "asleep", "{laptop}");
    assert_eq!(laptop["said"], "asleep", "{laptop}");
    assert_eq!(laptop["sessions"], json!(["away"]), "{laptop}");
    let here = listed.iter().find(|h| h["name"] != "laptop").unwrap();
    assert_eq!(here["state"], "heard", "{here}");
    let own = here["sessions"][0].as_str().unwrap();
    assert!(own.starts_with("coord-serve@"), "the server's own: {here}");
}

#[test]
fn batches_answer_requests_in_order_and_notifications_never() {
    let s = Server::start(World::new(), &[]);
    let batch = json!([
        { "jsonrpc": "2.0", "method": "system.heartbeat", "params": { "instanceId": "x" }, "id": "a" },
        { "jsonrpc": "2.0", "method": "system.register", "params": { "id": "quiet", "roles": [] } },
        { "jsonrpc": "2.0", "method": "system.get_state", "id": 7 },
        1,
        { "jsonrpc": "2.0", "method": "no.such.method" },
        { "jsonrpc": "2.0", "method": "system.heartbeat", "params": {} },
    ]);
    for path in ["/rpc", "/rpc/batch"] {
        let (status, text) = s.post(path, batch.to_string());
        assert_eq!(status, 200);
        let answers: Value = serde_json::from_str(&text).unwrap();
        let answers = answers.as_array().unwrap();
        assert_eq!(answers.len(), 3, "{text}");
        assert_eq!(answers[0]["id"], "a");
        assert_eq!(
            answers[0]["result"],
            json!({ "alive": false, "isLeader": false })
        );
        assert_eq!(answers[1]["id"], 7);
        assert!(answers[1]["result"]["seq"].is_u64(), "{text}");
        assert_eq!(answers[2]["id"], Value::Null);
        assert_eq!(answers[2]["error"]["code"], -32600);
    }
    // The notification took effect.
    assert_eq!(
        s.ok("system.heartbeat", json!({ "instanceId": "quiet" }))["alive"],
        true
    );
    // Only notifications: nothing to answer.
    let only = json!([
        { "jsonrpc": "2.0", "method": "system.heartbeat", "params": { "instanceId": "quiet" } },
        { "jsonrpc": "2.0", "method": "nope", "params": null },
    ]);
    assert_eq!(s.post("/rpc", only.to_string()), (204, String::new()));
    assert_eq!(
        s.post("/rpc", r#"{"jsonrpc":"2.0","method":"nope"}"#),
        (204, String::new())
    );
}

/// A batch of `method` calls, one per `params`, with ids 0, 1, …; its answers' results or
/// errors, in order.
fn batch_of(s: &Server, method: &str, params: &[Value]) -> Vec<Value> {
    let batch: Vec<Value> = params
        .iter()
        .enumerate()
        .map(|(i, p)| json!({ "jsonrpc": "2.0", "method": method, "params": p, "id": i }))
        .collect();
    let answers = s.rpc(&Value::Array(batch));
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), params.len(), "{answers:?}");
    answers
        .iter()
        .enumerate()
        .map(|(i, a)| {
            assert_eq!(a["id"], i);
            a.get("result").unwrap_or(&a["error"]).clone()
        })
        .collect()
}

/// Batches of heartbeats, claims and completions, on the embedded store and on Redis (where
/// each batch's like calls go in one pipeline): every call is answered in order as it would be
/// alone, a refusal among them included, and no token is handed out twice.
#[test]
fn batches_of_claims_and_completions_answer_each_call_as_alone_on_both_stores() {
    let redis = RedisServer::start();
    for world in [World::new(), World::on(redis.url().to_string())] {
        let s = Server::start(world, &[]);
        let workers: Vec<Value> = (0..3)
            .map(|i| json!({ "id": format!("w{i}"), "roles": [] }))
            .collect();
        batch_of(&s, "system.register", &workers);
        let tasks: Vec<Value> = (0..5)
            .map(|i| json!({ "id": format!("t{i}"), "title": format!("job {i}") }))
            .collect();
        batch_of(&s, "task.add", &tasks);

        let beats = batch_of(
            &s,
            "session.heartbeat",
            &[
                json!({ "id": "w0" }),
                json!({ "id": "nobody" }),
                json!({ "id": "w0" }),
            ],
        );
        assert_eq!(beats[0]["beats"], 1);
        assert_eq!(beats[1]["code"], -32004, "{beats:?}");
        assert_eq!(beats[2]["beats"], 2);
        let system = batch_of(
            &s,
            "system.heartbeat",
            &[
                json!({ "instanceId": "w1" }),
                json!({ "instanceId": "nobody" }),
                json!({ "instanceId": "w2" }),
            ],
        );
        // coord serve itself leads its fleet.
        let (alive, unknown) = (
            json!({ "alive": true, "isLeader": false }),
            json!({ "alive": false, "isLeader": false }),
        );
        assert_eq!(system, [alive.clone(), unknown, alive], "{system:?}");

        let claims: Vec<Value> = ["w0", "w1", "nobody", "w2", "w0", "w1", "w2"]
            .iter()
            .map(|w| json!({ "session": w }))
            .collect();
        let claimed = batch_of(&s, "task.claim", &claims);
        assert_eq!(claimed[2]["code"], -32004, "not registered: {claimed:?}");
        assert_eq!(claimed[6]["code"], -32010, "nothing waits: {claimed:?}");
        let held: Vec<(&str, &str, u64)> = [0, 1, 3, 4, 5]
            .iter()
            .map(|&i| {
                let t = &claimed[i];
                (
                    t["id"].as_str().unwrap(),
                    t["session"].as_str().unwrap(),
                    t["token"].as_u64().unwrap(),
                )
            })
            .collect();
        let order: Vec<&str> = held.iter().map(|h| h.0).collect();
        assert_eq!(
            order,
            ["t0", "t1", "t2", "t3", "t4"],
            "oldest first, in call order"
        );
        let tokens: Vec<u64> = held.iter().map(|h| h.2).collect();
        assert!(tokens.windows(2).all(|w| w[1] == w[0] + 1), "{tokens:?}");

        // One stale token among the completions: it alone is refused, and changes nothing.
        let mut completions: Vec<Value> = held
            .iter()
            .map(|(task, _, token)| json!({ "task": task, "token": token }))
            .collect();
        completions[2]["token"] = json!(held[2].2 + 100);
        completions.push(json!({ "task": "t0", "token": held[0].2 }));
        let done = batch_of(&s, "task.complete", &completions);
        for i in [0, 1, 3, 4] {
            assert_eq!(done[i]["state"], "done", "{done:?}");
        }
        assert_eq!(done[2]["code"], -32005, "{done:?}");
        // The same completion twice in one batch: the second finds the task done already.
        assert_eq!(done[5]["code"], -32005, "already done: {done:?}");
        assert_eq!(
            s.ok("task.show", json!({ "task": "t2" }))["state"],
            "claimed"
        );
    }
}

#[test]
fn ids_are_echoed_exactly() {
    let s = Server::start(World::new(), &[]);
    for id in [
        r#""abc""#,
        r#""\u00e9t\u00e9""#,
        "42",
        "-1",
        "1.50",
        "18446744073709551615",
        "null",
    ] {
        let body = format!(
            r#"{{"jsonrpc":"2.0","method":"system.heartbeat","params":{{"instanceId":"i"}},"id":{id}}}"#
        );
        let (status, text) = s.post("/rpc", &body);
        assert_eq!(status, 200);
        assert!(text.ends_with(&format!(r#","id":{id}}}"#)), "{id}: {text}");
    }
}

#[test]
fn every_malformed_body_has_its_code() {
    let s = Server::start(World::new(), &[]);
    let raw = |body: &str| -> Value {
        let (status, text) = s.post("/rpc", body);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&text).unwrap()
    };
    let parse = raw(r#"{"jsonrpc":"2.0","method":"#);
    assert_eq!(
        (parse["error"]["code"].as_i64(), &parse["id"]),
        (Some(-32700), &Value::Null)
    );
    for invalid in [
        r#"{"jsonrpc":"1.0","method":"system.get_state","id":1}"#,
        r#"{"method":"system.get_state","id":1}"#,
        r#"{"jsonrpc":"2.0","method":5,"id":1}"#,
        r#"{"jsonrpc":"2.0","method":"system.get_state","id":{}}"#,
        r#"{"jsonrpc":"2.0","method":"system.get_state","params":"x","id":1}"#,
        "[]",
        "\"hello\"",
    ] {
        let e = raw(invalid);
        assert_eq!(e["error"]["code"], -32600, "{invalid}: {e}");
        assert_eq!(e["id"], Value::Null);
    }
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({ "jsonrpc": "2.0", "method": "system.get_state", "id": i }))
        .collect();
    let e = s.rpc(&Value::Array(too_many));
    assert_eq!(e["error"]["code"], -32600);
    assert_eq!(e["error"]["data"]["maxBatch"], 100);
    // Only JSON bodies: a browser sends a cross-origin JSON body only after a CORS preflight.
    let mut refused = s
        .http
        .post(s.url("/rpc"))
        .header("Content-Type", "text/plain")
        .send(
            r#"{"jsonrpc":"2.0","method":"system.unregister","params":{"instanceId":"x"},"id":1}"#,
        )
        .unwrap();
    assert_eq!(refused.status().as_u16(), 415);
    let text = refused.body_mut().read_to_string().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"]["code"],
        -32600
    );

    // A body over 1 MiB is refused from its length alone.
    let mut conn = std::net::TcpStream::connect(&s.addr).unwrap();
    std::io::Write::write_all(
        &mut conn,
        b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n",
    )
    .unwrap();
    let mut head = String::new();
    let mut reader = BufReader::new(conn);
    reader.read_line(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let mut rest = String::new();
    while reader.read_line(&mut rest).unwrap() > 0 && !rest.contains("\"error\"") {}
    assert!(rest.contains("-32600"), "{rest}");
}

#[test]
fn every_refused_call_has_its_code() {
    let s = Server::start(World::new(), &[]);
    let e = s.err("system.nope", json!({}));
    assert_eq!(
        (e["code"].as_i64(), e["message"].as_str()),
        (Some(-32601), Some("Method not found: system.nope"))
    );
    assert_eq!(s.err("events.subscribe", json!({}))["code"], -32601);

    // The system.* methods answer as ClaudeBench does: zod's issues, each with its path.
    for (method, params, path) in [
        ("system.heartbeat", json!({}), json!(["instanceId"])),
        (
            "system.heartbeat",
            json!({ "instanceId": 5 }),
            json!(["instanceId"]),
        ),
        (
            "system.heartbeat",
            json!({ "instanceId": "" }),
            json!(["instanceId"]),
        ),
        (
            "system.register",
            json!({ "id": "a", "roles": "worker" }),
            json!(["roles"]),
        ),
        (
            "system.register",
            json!({ "id": "a", "roles": [], "metadata": { "workingDirectory": 1 } }),
            json!(["metadata", "workingDirectory"]),
        ),
        (
            "system.check_health",
            json!({ "timeout": "soon" }),
            json!(["timeout"]),
        ),
    ] {
        let e = s.err(method, params.clone());
        assert_eq!(e["code"], -32602, "{method} {params}: {e}");
        assert_eq!(e["message"], "Invalid parameters", "{method} {params}: {e}");
        assert_eq!(e["data"][0]["path"], path, "{method} {params}: {e}");
    }
    for (method, params, field) in [
        (
            "session.register",
            json!({ "id": "a", "runtime": "cobol" }),
            "runtime",
        ),
        ("session.register", json!({ "id": "a b" }), "id"),
        (
            "task.complete",
            json!({ "task": "t", "token": -1 }),
            "token",
        ),
        ("events.list", json!({ "limit": 0 }), "limit"),
    ] {
        let e = s.err(method, params.clone());
        assert_eq!(e["code"], -32602, "{method} {params}: {e}");
        assert_eq!(e["data"]["field"], field, "{method} {params}: {e}");
    }
    let positional =
        s.rpc(&json!({ "jsonrpc": "2.0", "method": "system.get_state", "params": [1], "id": 1 }));
    assert_eq!(positional["error"]["code"], -32602);

    assert_eq!(
        s.err("session.heartbeat", json!({ "id": "ghost" }))["code"],
        -32004
    );
    assert_eq!(
        s.err("session.show", json!({ "id": "ghost" }))["code"],
        -32004
    );
    assert_eq!(
        s.err("task.show", json!({ "task": "nothing" }))["code"],
        -32010
    );
    s.ok("task.add", json!({ "title": "x", "id": "dup" }));
    assert_eq!(
        s.err("task.add", json!({ "title": "x", "id": "dup" }))["code"],
        -32010
    );
    s.ok("system.register", json!({ "id": "holder", "roles": [] }));
    let token = s.ok("task.claim", json!({ "session": "holder" }))["token"]
        .as_u64()
        .unwrap();
    assert_eq!(
        s.err("task.claim", json!({ "session": "holder", "task": "dup" }))["code"],
        -32010
    );
    assert_eq!(
        s.err("task.claim", json!({ "session": "holder" }))["code"],
        -32010
    );
    assert_eq!(
        s.err("task.release", json!({ "task": "dup", "token": token + 1 }))["code"],
        -32005
    );
}

#[test]
fn a_locked_store_times_calls_out_and_system_calls_fall_back() {
    let w = World::new();
    let db = w.db();
    let s = Server::start(w, &[]);
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();

    // A batch is one group of changes: it waits for the lock once, and every member is
    // answered within the budget, none with a result it did not get.
    let mut batch: Vec<Value> = (0..10)
        .map(|i| json!({ "jsonrpc": "2.0", "method": "session.register", "params": { "id": format!("s{i}") }, "id": i }))
        .collect();
    batch.push(json!({ "jsonrpc": "2.0", "method": "system.register", "params": { "id": "late", "roles": [] }, "id": "sys" }));
    let start = Instant::now();
    let answers = s.rpc(&Value::Array(batch));
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "the batch took {took:?}"
    );
    let answers = answers.as_array().unwrap();
    for a in &answers[..10] {
        assert!(
            [-32001, -32006].contains(&a["error"]["code"].as_i64().unwrap()),
            "{a}"
        );
    }
    let sys = &answers[10];
    assert!(
        sys["result"] == json!({ "registered": false }) || sys["error"]["code"] == -32001,
        "{sys}"
    );

    // More calls at once than the store has handles for (a command line's store operations,
    // each on its own): those that wait past the budget time out.
    let concurrently = |calls: Vec<(&'static str, Value)>| -> (Vec<Value>, Duration) {
        let start = Instant::now();
        let answers = std::thread::scope(|scope| {
            let calls: Vec<_> = calls
                .into_iter()
                .map(|(method, params)| {
                    let s = &s;
                    scope.spawn(move || s.call(method, params))
                })
                .collect();
            calls.into_iter().map(|c| c.join().unwrap()).collect()
        });
        (answers, start.elapsed())
    };
    let codes = |answers: &[Value]| -> Vec<i64> {
        answers
            .iter()
            .map(|a| a["error"]["code"].as_i64().unwrap())
            .collect()
    };
    let (answers, took) = concurrently(
        (0..10)
            .map(|_| ("store.nextToken", json!({ "namespace": "default" })))
            .collect(),
    );
    assert!(
        took < Duration::from_millis(3500),
        "the calls took {took:?}"
    );
    let store_codes = codes(&answers);
    assert!(
        store_codes.iter().all(|c| [-32001, -32006].contains(c)),
        "{store_codes:?}"
    );
    assert!(store_codes.contains(&-32006), "{store_codes:?}");

    // Changes sent at once, each on its own, run together on the one writer: none is answered
    // with a result it did not get, and a ClaudeBench call gets its documented fallback or
    // the store's error.
    let mut changes: Vec<(&'static str, Value)> = (0..10)
        .map(|i| ("session.register", json!({ "id": format!("c{i}") })))
        .collect();
    changes.push(("system.register", json!({ "id": "late", "roles": [] })));
    let (answers, took) = concurrently(changes);
    lock.execute_batch("ROLLBACK").unwrap();
    assert!(
        took < Duration::from_millis(3500),
        "the calls took {took:?}"
    );
    let change_codes = codes(&answers[..10]);
    assert!(
        change_codes.iter().all(|c| [-32001, -32006].contains(c)),
        "{change_codes:?}"
    );
    let sys = &answers[10];
    assert!(
        sys["result"] == json!({ "registered": false }) || sys["error"]["code"] == -32001,
        "{sys}"
    );
    // The store is free again: calls succeed, once the breaker lets them through (these
    // failures may have opened it, unless a read in between, such as the event feed's, went
    // through the free readers of the store and closed it again).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = s.call("session.register", json!({ "id": "after" }));
        if answer.get("result").is_some() {
            break;
        }
        assert_eq!(answer["error"]["code"], -32001, "{answer}");
        assert!(
            Instant::now() < deadline,
            "the breaker never closed: {answer}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The count and the sum of the writer's groups, from `GET /metrics`.
fn writer_groups(s: &Server) -> (u64, u64) {
    let (_, metrics) = s.get("/metrics");
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in\n{metrics}")) as u64
    };
    (
        value("coord_writer_group_calls_count"),
        value("coord_writer_group_calls_sum"),
    )
}

#[test]
fn changes_sent_at_once_on_the_embedded_store_share_one_transaction() {
    let w = World::new();
    let db = w.db();
    let s = Server::start(w, &[]);
    let ids: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
    for id in &ids {
        s.ok("system.register", json!({ "id": id, "roles": [] }));
    }
    let (groups_before, calls_before) = writer_groups(&s);

    // The store is held by another writer while five batches come in on five connections:
    // the writer starts on the first and waits for the lock; the others queue behind it and,
    // the lock let go, are run together.
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let batches: Vec<_> = ids
            .chunks(10)
            .map(|chunk| {
                let s = &s;
                let batch: Vec<Value> = chunk
                    .iter()
                    .map(|id| json!({ "jsonrpc": "2.0", "method": "session.heartbeat", "params": { "id": id }, "id": id }))
                    .collect();
                scope.spawn(move || s.rpc(&Value::Array(batch)))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400));
        lock.execute_batch("ROLLBACK").unwrap();
        batches.into_iter().map(|b| b.join().unwrap()).collect()
    });
    for answer in answers.iter().flat_map(|a| a.as_array().unwrap()) {
        assert_eq!(answer["result"]["beats"], 1, "{answer}");
    }
    let (groups, calls) = writer_groups(&s);
    assert_eq!(calls - calls_before, 50, "every heartbeat ran once");
    assert!(
        groups - groups_before <= 2,
        "five batches in {} transactions",
        groups - groups_before
    );
}

#[test]
fn the_rate_limit_counts_each_instance_apart() {
    let s = Server::start(World::new(), &[]);
    let beats = |id: &str| -> Value {
        Value::Array(
            (0..100)
                .map(|i| json!({ "jsonrpc": "2.0", "method": "system.heartbeat", "params": { "instanceId": id }, "id": i }))
                .collect(),
        )
    };
    let mut limited = Vec::new();
    for _ in 0..12 {
        for a in s.rpc(&beats("busy")).as_array().unwrap() {
            if a.get("error").is_some() {
                limited.push(a["error"].clone());
            } else {
                assert_eq!(a["result"]["alive"], false, "{a}");
            }
        }
    }
    assert!(
        (100..=200).contains(&limited.len()),
        "{} calls limited",
        limited.len()
    );
    for e in &limited {
        assert_eq!(
            (e["code"].as_i64(), &e["data"]["perMinute"]),
            (Some(-32000), &json!(1000))
        );
    }
    assert_eq!(
        s.ok("system.heartbeat", json!({ "instanceId": "calm" })),
        json!({ "alive": false, "isLeader": false })
    );
    let (_, metrics) = s.get("/metrics");
    assert!(
        metrics.contains("coord_rpc_rate_limited_total "),
        "{metrics}"
    );
}

#[test]
fn a_remote_store_is_limited_as_the_host_it_says_it_is_not_as_its_address() {
    let s = Server::start(World::new(), &[]);
    let nows = |client: &str| -> Value {
        Value::Array(
            (0..100)
                .map(|i| json!({ "jsonrpc": "2.0", "method": "store.now", "params": { "namespace": "default", "client": client }, "id": i }))
                .collect(),
        )
    };
    let limited: usize = (0..12)
        .map(|_| {
            s.rpc(&nows("busy-host"))
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["error"]["code"] == -32000)
                .count()
        })
        .sum();
    assert!(limited >= 100, "{limited} calls limited");
    // Another host behind the same address has its own allowance.
    let calm = s.rpc(&nows("calm-host"));
    assert!(
        calm.as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("result").is_some()),
        "{calm}"
    );
}

#[test]
fn with_a_token_every_request_must_carry_it() {
    let w = World::new();
    let refused = w
        .cmd()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("without a token") && err.contains("--token"),
        "{err}"
    );

    let s = Server::start(w, &["--token", "s3cret-t0ken"]);
    let bare: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let body = r#"{"jsonrpc":"2.0","method":"system.get_state","id":1}"#;
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic s3cret-t0ken"),
        Some("Bearer s3cret-t0ke"),
    ] {
        let mut req = bare.post(s.url("/rpc"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(body).unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
        // Its body unread, the connection is not kept for the next request.
        let connection = resp
            .headers()
            .get("connection")
            .map(ureq::http::HeaderValue::as_bytes);
        assert_eq!(connection, Some(&b"close"[..]), "{auth:?}");
        assert_eq!(resp.body_mut().read_to_string().unwrap(), "");
    }
    for path in ["/healthz", "/metrics", "/ws"] {
        assert_eq!(
            bare.get(s.url(path)).call().unwrap().status().as_u16(),
            401,
            "{path}"
        );
    }
    match tungstenite::connect(format!("ws://{}/ws", s.addr)) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 401),
        other => panic!("a WebSocket without the token: {:?}", other.map(|_| ())),
    }
    let (status, text) = s.post("/rpc", body);
    assert_eq!(status, 200);
    assert!(text.contains("\"seq\""), "{text}");
    assert_eq!(s.get("/healthz").0, 200);
}

#[test]
fn a_websocket_subscriber_sees_a_dead_session_evicted() {
    let s = Server::start(World::new(), &["--grace", "0s"]);
    let mut ws = s.ws();
    ws.send(&json!({ "jsonrpc": "2.0", "method": "events.subscribe", "params": {}, "id": "sub" }));
    let answer = ws.next();
    assert_eq!(answer["id"], "sub");
    assert_eq!(answer["result"]["subscribed"], true);
    let since = answer["result"]["since"].as_u64().unwrap();

    let mut agent = Sleeper::start();
    let pid: u32 = agent.pid().parse().unwrap();
    s.ok("session.register", json!({ "id": "victim", "pid": pid }));
    agent.kill();
    let health = s.ok("system.check_health", json!({}));
    assert!(ids(&health["failed"]).contains(&"victim"), "{health}");

    let seen = ws.events_until(|e| e["kind"] == "evicted" && e["session"] == "victim");
    let seqs: Vec<u64> = seen.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] > since,
        "{seqs:?}"
    );
    let victim: Vec<&str> = seen
        .iter()
        .filter(|e| e["session"] == "victim")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(victim, ["registered", "exited", "evicted"]);
    assert!(seen.last().unwrap()["at"].as_str().unwrap().ends_with('Z'));

    // The same methods answer over the socket.
    ws.send(&json!({ "jsonrpc": "2.0", "method": "system.heartbeat", "params": { "instanceId": "victim" }, "id": 9 }));
    let beat = ws.next();
    assert_eq!(
        (beat["id"].as_i64(), &beat["result"]["alive"]),
        (Some(9), &json!(false))
    );

    // A web page of another machine cannot open the socket; one of this machine can.
    let handshake = |origin: &str| {
        let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/ws",
            s.addr
        ))
        .unwrap();
        req.headers_mut().insert("Origin", origin.parse().unwrap());
        tungstenite::connect(req).map(|_| ())
    };
    match handshake("https://evil.example") {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 403),
        other => panic!("a foreign origin: {other:?}"),
    }
    assert!(handshake("http://localhost:3000").is_ok());

    // A subscription resumes from a sequence number: the history comes first.
    let mut late = s.ws();
    late.send(&json!({ "jsonrpc": "2.0", "method": "events.subscribe", "params": { "since": since }, "id": 1 }));
    assert_eq!(late.next()["result"]["since"], since);
    let replay = late.events_until(|e| e["kind"] == "evicted" && e["session"] == "victim");
    assert_eq!(replay, seen);
}

#[test]
fn a_store_that_dies_opens_the_breaker_and_fails_fast() {
    let redis = RedisServer::start();
    let s = Server::start(World::on(redis.url().to_string()), &[]);
    s.ok(
        "system.register",
        json!({ "id": "r-1", "roles": ["worker"] }),
    );
    assert_eq!(
        s.ok("system.heartbeat", json!({ "instanceId": "r-1" })),
        json!({ "alive": true, "isLeader": false })
    );
    let state = s.ok("system.get_state", json!({}));
    assert!(
        state["instances"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "r-1")
    );

    drop(redis);
    let batch: Vec<Value> = (0..40)
        .map(|i| json!({ "jsonrpc": "2.0", "method": "session.heartbeat", "params": { "id": "r-1" }, "id": i }))
        .collect();
    let answers = s.rpc(&Value::Array(batch));
    let errors: Vec<&Value> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["error"])
        .collect();
    assert!(errors.iter().all(|e| e["code"] == -32001), "{answers}");
    let start = Instant::now();
    let e = s.err("session.heartbeat", json!({ "id": "r-1" }));
    assert!(start.elapsed() < Duration::from_millis(100));
    assert!(
        e["message"].as_str().unwrap().contains("circuit open"),
        "{e}"
    );
    let (status, body) = s.get("/healthz");
    assert_eq!(status, 503, "{body}");
    let (_, metrics) = s.get("/metrics");
    assert!(
        metrics.lines().any(|l| l == "coord_breaker_state 2"),
        "{metrics}"
    );
}

/// Picks from the shared generator.
trait Pick {
    fn below(&mut self, n: usize) -> usize;
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T;
}

impl Pick for Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A request object that is wrong in some way but always carries an id (not a notification).
fn wrong_request(rng: &mut Rng) -> Value {
    let any = [
        json!(1),
        json!("x"),
        Value::Null,
        json!([]),
        json!({}),
        json!(true),
        json!(-1.5),
        json!("2.0"),
    ];
    let methods = [
        json!("system.heartbeat"),
        json!("task.claim"),
        json!("session.show"),
        json!("task.fail"),
        json!("nope"),
        json!(5),
        Value::Null,
    ];
    let params = [
        json!({}),
        json!({ "instanceId": 5 }),
        json!({ "id": "" }),
        json!({ "session": [] }),
        json!({ "limit": -1 }),
        json!([1]),
        json!("x"),
        json!(3),
        Value::Null,
    ];
    let mut req = json!({ "jsonrpc": "2.0", "id": rng.below(1000) });
    match rng.below(4) {
        0 => req["jsonrpc"] = rng.pick(&any).clone(),
        1 => req["id"] = rng.pick(&any).clone(),
        _ => {}
    }
    if rng.below(8) > 0 {
        req["method"] = rng.pick(&methods).clone();
    }
    if rng.below(4) > 0 {
        req["params"] = rng.pick(&params).clone();
    }
    req
}

fn is_error(v: &Value) -> bool {
    let code = v["error"]["code"].as_i64().unwrap_or(0);
    v.get("result").is_none() && (-32700..=-32000).contains(&code) && v["jsonrpc"] == "2.0"
}

#[test]
fn thousands_of_malformed_bodies_get_errors_and_the_server_lives() {
    let mut s = Server::start(World::new(), &[]);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let valid =
        br#"{"jsonrpc":"2.0","method":"system.heartbeat","params":{"instanceId":"f"},"id":1}"#;
    let rounds = common::scaled(3000, 10_000);
    // Named, so that the rate limit of the anonymous calls the fuzz spends is not in the way.
    let named = json!({ "id": "fuzz-check" });
    let before = s.ok("system.get_state", named.clone());
    for round in 0..rounds {
        let kind = round % 5;
        let body: Vec<u8> = match kind {
            0 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
            1 => {
                let mut b = valid.to_vec();
                for _ in 0..=rng.below(4) {
                    let at = rng.below(b.len());
                    match rng.below(3) {
                        0 => b[at] = rng.next() as u8,
                        1 => {
                            b.remove(at);
                        }
                        _ => b.insert(at, rng.next() as u8),
                    }
                }
                b
            }
            2 => wrong_request(&mut rng).to_string().into_bytes(),
            3 => {
                let n = 1 + rng.below(20);
                let members: Vec<Value> = (0..n)
                    .map(|_| match rng.below(3) {
                        0 => rng
                            .pick(&[json!(1), json!("x"), Value::Null, json!([])])
                            .clone(),
                        _ => wrong_request(&mut rng),
                    })
                    .collect();
                Value::Array(members).to_string().into_bytes()
            }
            _ => match rng.below(3) {
                0 => Value::Array(vec![
                    json!({ "jsonrpc": "2.0", "method": "x", "id": 1 });
                    101 + rng.below(400)
                ])
                .to_string()
                .into_bytes(),
                1 => {
                    let depth = 1 + rng.below(5000);
                    format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
                }
                _ => format!(
                    r#"{{"jsonrpc":"2.0","method":"x","id":{}}}"#,
                    "9".repeat(1 + rng.below(300))
                )
                .into_bytes(),
            },
        };
        let (status, text) = s.post("/rpc", &body);
        let shown = String::from_utf8_lossy(&body);
        if status == 204 {
            // Only a valid notification goes unanswered (a mutation can make one).
            assert!(
                kind == 1 && serde_json::from_slice::<Value>(&body).is_ok(),
                "{shown}"
            );
            continue;
        }
        assert_eq!(status, 200, "round {round}: {shown}: {text}");
        let answer: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("round {round}: {shown}: not JSON ({e}): {text}"));
        match &answer {
            Value::Array(all) => assert!(all.iter().all(is_error), "{shown}: {text}"),
            one => assert!(is_error(one) || kind == 1, "round {round}: {shown}: {text}"),
        }
    }
    assert!(s.alive(), "the server died");
    let after = s.ok("system.get_state", named);
    let instances = |state: &Value| -> Vec<Value> {
        let all = state["instances"].as_array().map_or(&[][..], Vec::as_slice);
        all.iter().map(|i| i["id"].clone()).collect()
    };
    assert_eq!(
        (instances(&after), &after["tasks"]),
        (instances(&before), &before["tasks"]),
        "no malformed request wrote anything"
    );
    s.ok(
        "system.register",
        json!({ "id": "still-here", "roles": [] }),
    );
    common::publish(
        "rpc-fuzz",
        &[
            ("requests", rounds.to_string()),
            ("crashes", "0".to_owned()),
            ("unanswered", "0".to_owned()),
        ],
    );
}

#[test]
fn finished_tasks_past_keep_are_retired_by_the_sweep_and_counted() {
    let s = Server::start(World::new(), &["--keep", "10ms"]);
    s.ok("session.register", json!({ "id": "w" }));
    for id in ["first", "second"] {
        s.ok("task.add", json!({ "id": id, "title": "work" }));
    }
    let claimed = s.ok("task.claim", json!({ "session": "w" }));
    let token = claimed["token"].as_u64().unwrap();
    s.ok(
        "task.complete",
        json!({ "task": claimed["id"], "token": token }),
    );
    let listed = |params: Value| -> Vec<String> {
        s.ok("task.list", params)["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(json!({ "all": true })), ["first", "second"]);
    std::thread::sleep(Duration::from_millis(50));
    s.ok("system.check_health", json!({}));
    assert_eq!(listed(json!({})), ["second"]);
    assert_eq!(listed(json!({ "all": true })), ["second"]);
    let (_, metrics) = s.get("/metrics");
    assert!(
        metrics.lines().any(|l| l == "coord_tasks_retired_total 1"),
        "{metrics}"
    );
}
