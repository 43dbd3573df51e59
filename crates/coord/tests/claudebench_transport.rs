//! ClaudeBench's web client against the real `coord serve`, at the transport: the WebSocket
//! actions its `EventClient` sends (`execute`, `subscribe`, `unsubscribe`, `ping`) answered in
//! the shapes it reads, plain JSON-RPC on the same socket as before, and the browser's CORS
//! exchange that `--allow-origin` opens (preflight, the real request's headers, the token still
//! asked for, the WebSocket's `Origin` check). Everything is local; nothing is fetched.

mod common;

use std::time::{Duration, Instant};

use common::World;
use common::serve::Served;
use common::ws::Ws;
use serde_json::{Value, json};

/// ClaudeBench's web UI, served from another port than the server's.
const BENCH: &str = "http://localhost:3001";

/// A page of another machine that `--allow-origin` may name.
const REMOTE: &str = "http://bench.example:8080";

/// A `coord serve` that leads its fleet (so its own session's events are behind it).
fn serve(extra: &[&str]) -> Served {
    let served = Served::start(World::new(), extra);
    let auth = extra
        .iter()
        .position(|a| *a == "--token")
        .map(|i| format!("Bearer {}", extra[i + 1]));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut req = agent().get(format!("{}/healthz", served.url()));
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().unwrap();
        let text = resp.body_mut().read_to_string().unwrap();
        let health: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if health["leader"]["instanceId"].is_string() {
            return served;
        }
        assert!(
            Instant::now() < deadline,
            "coord serve did not take the lead"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// What ClaudeBench's `EventClient` does on a socket.
trait Bench {
    fn execute(&mut self, request: &Value) -> Value;
    fn pong(&mut self);
    fn subscribe(&mut self, patterns: &[&str]);
    fn event_of(&mut self, session: &str) -> Value;
}

impl Bench for Ws {
    /// `executeViaWebSocket`: sends the envelope, then reads until the message it takes as
    /// its answer (`jsonrpc` "2.0" and the same `id`, compared strictly); nothing else may come.
    fn execute(&mut self, request: &Value) -> Value {
        self.send(&json!({ "action": "execute", "request": request }));
        let answer = self.next();
        assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
        assert_eq!(answer["id"], request["id"], "the id as sent: {answer}");
        assert!(answer.is_object(), "one answer, not a batch: {answer}");
        answer
    }

    /// Sends `ping` and expects `pong` as the very next message: nothing was sent before it.
    fn pong(&mut self) {
        self.send(&json!({ "action": "ping" }));
        let pong = self.next();
        assert_eq!(pong["type"], "pong", "{pong}");
        assert!(pong["timestamp"].is_u64(), "{pong}");
    }

    /// Subscribes to `patterns` and checks ClaudeBench's confirmation.
    fn subscribe(&mut self, patterns: &[&str]) {
        self.send(&json!({ "action": "subscribe", "events": patterns }));
        let confirmed = self.next();
        assert_eq!(confirmed["type"], "subscribed", "{confirmed}");
        assert_eq!(confirmed["events"], json!(patterns));
        assert!(confirmed["timestamp"].is_u64(), "{confirmed}");
    }

    /// Reads event messages until one concerns `session`; returns it.
    fn event_of(&mut self, session: &str) -> Value {
        loop {
            let m = self.next();
            assert_eq!(m["type"], "event", "{m}");
            if m["data"]["payload"]["session"] == session {
                return m;
            }
        }
    }
}

/// POSTs a JSON-RPC call to `/rpc` with these headers; the status, headers and body.
fn post(
    s: &Served,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, ureq::http::HeaderMap, String) {
    let mut req = agent()
        .post(format!("{}/rpc", s.url()))
        .header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body.to_string()).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, resp.headers().clone(), text)
}

/// The preflight a browser sends before a cross-origin JSON POST from `origin`.
fn preflight(s: &Served, origin: &str) -> (u16, ureq::http::HeaderMap) {
    let resp = agent()
        .options(format!("{}/rpc", s.url()))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,authorization",
        )
        .call()
        .unwrap();
    (resp.status().as_u16(), resp.headers().clone())
}

fn header<'a>(headers: &'a ureq::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// Whether a comma-separated header lists `item` (in any case).
fn lists(headers: &ureq::http::HeaderMap, name: &str, item: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .unwrap()
            .split(',')
            .any(|i| i.trim().eq_ignore_ascii_case(item))
    })
}

fn no_cors_headers(headers: &ureq::http::HeaderMap) -> bool {
    headers
        .keys()
        .all(|k| !k.as_str().starts_with("access-control-"))
}

/// A preflight from `origin` gets `status` and no CORS header.
fn preflight_refused(s: &Served, origin: &str, status: u16) {
    let (got, headers) = preflight(s, origin);
    assert_eq!(got, status, "{origin}");
    assert!(no_cors_headers(&headers), "{origin}: {headers:?}");
}

/// A WebSocket handshake from `origin` gets `status`.
fn handshake_refused(s: &Served, origin: &str, status: u16) {
    match Ws::open(&s.addr, Some(origin)) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), status, "{origin}"),
        other => panic!("{origin}: {:?}", other.map(|_| ())),
    }
}

/// Checks that `text` is the answer to [`get_state`].
fn answered(text: &str) {
    let answer: Value = serde_json::from_str(text).unwrap();
    assert!(
        answer["id"] == 1 && answer["result"].is_object(),
        "{answer}"
    );
}

fn get_state() -> Value {
    json!({ "jsonrpc": "2.0", "method": "system.get_state", "params": {}, "id": 1 })
}

#[test]
fn the_execute_envelope_is_answered_as_claudebench_answers_it() {
    let s = serve(&[]);
    let mut ws = Ws::open(&s.addr, None).unwrap();

    // A number id comes back a number, a string a string: the client compares with ===.
    let state = ws.execute(&get_state());
    assert!(state.get("error").is_none(), "{state}");
    assert!(state["result"].is_object(), "{state}");
    let by_name = ws.execute(&json!({
        "jsonrpc": "2.0",
        "method": "system.register",
        "params": { "id": "bench-worker", "roles": ["worker"] },
        "id": "test-1",
        "metadata": { "sessionId": "s", "correlationId": "c", "timestamp": 1 },
    }));
    assert_eq!(by_name["result"]["registered"], true, "{by_name}");

    // An error is JSON-RPC's: `error` with a code and a message, which the client rejects with.
    let missing = ws.execute(&json!({ "jsonrpc": "2.0", "method": "system.nope", "id": 2 }));
    assert!(missing.get("result").is_none(), "{missing}");
    assert_eq!(missing["error"]["code"], -32601);
    assert!(missing["error"]["message"].is_string(), "{missing}");

    // A notification inside the envelope runs and gets nothing.
    ws.send(&json!({ "action": "execute", "request": {
        "jsonrpc": "2.0", "method": "system.heartbeat", "params": { "instanceId": "bench-worker" },
    } }));
    ws.pong();

    // Plain JSON-RPC on the same socket answers as before.
    ws.send(&json!({ "jsonrpc": "2.0", "method": "system.get_state", "id": 3 }));
    let plain = ws.next();
    assert_eq!(
        (plain["id"].as_i64(), plain["jsonrpc"].as_str()),
        (Some(3), Some("2.0"))
    );
    assert!(plain["result"].is_object(), "{plain}");
    ws.send(&json!([{ "jsonrpc": "2.0", "method": "system.get_state", "id": 4 }]));
    assert_eq!(ws.next()[0]["id"], 4);
    ws.send(&json!({ "jsonrpc": "2.0", "method": "events.subscribe", "params": {}, "id": 5 }));
    assert_eq!(ws.next()["result"]["subscribed"], true);

    // What is not an action coord takes gets ClaudeBench's error message; what is not JSON is
    // still JSON-RPC's parse error.
    for refused in [
        json!({ "action": "invalid_action" }),
        json!({ "action": "execute" }),
        json!({ "action": "subscribe", "events": "task.*" }),
    ] {
        ws.send(&refused);
        let e = ws.next();
        assert_eq!(e["type"], "error", "{refused}: {e}");
        assert_eq!(e["error"]["code"], -32602, "{e}");
        assert!(e["error"]["message"].is_string(), "{e}");
        assert!(e["timestamp"].is_u64(), "{e}");
    }
    ws.send_text("invalid json");
    assert_eq!(ws.next()["error"]["code"], -32700);
}

#[test]
fn subscribe_actions_follow_the_event_log_by_pattern() {
    let s = serve(&["--lock-delay", "0s"]);
    let mut sessions = Ws::open(&s.addr, None).unwrap();
    sessions.subscribe(&["session.*"]);
    let mut tasks = Ws::open(&s.addr, None).unwrap();
    tasks.subscribe(&["task.*"]);
    let mut control = Ws::open(&s.addr, None).unwrap();

    let register = |control: &mut Ws, id: &str| {
        let req = json!({ "jsonrpc": "2.0", "method": "system.register",
            "params": { "id": id, "roles": ["worker"] }, "id": id });
        assert_eq!(control.execute(&req)["result"]["registered"], true);
    };
    register(&mut control, "bench-1");
    let e = sessions.event_of("bench-1");
    assert_eq!(e["event"], "session.registered", "{e}");
    assert_eq!(e["data"]["type"], "session.registered");
    assert!(e["data"]["id"].is_string(), "{e}");
    assert_eq!(e["data"]["payload"]["kind"], "registered");
    assert!(e["data"]["payload"]["seq"].is_u64(), "{e}");
    assert_eq!(e["timestamp"], e["data"]["timestamp"]);
    assert!(e["timestamp"].is_u64(), "{e}");

    let add = json!({ "jsonrpc": "2.0", "method": "task.add",
        "params": { "title": "bench", "id": "bench-task" }, "id": 10 });
    assert!(control.execute(&add).get("result").is_some());
    let claim = json!({ "jsonrpc": "2.0", "method": "task.claim",
        "params": { "session": "bench-1", "task": "bench-task" }, "id": 11 });
    assert_eq!(control.execute(&claim)["result"]["session"], "bench-1");
    let claimed = tasks.event_of("bench-1");
    assert_eq!(claimed["event"], "task.claimed", "{claimed}");
    assert_eq!(claimed["data"]["payload"]["task"], "bench-task");
    // The session's pattern takes no task event; the tasks' none of the session's.
    sessions.pong();
    tasks.pong();

    // Unsubscribed, a connection gets nothing, while a witness on `*` sees the next event.
    sessions.send(&json!({ "action": "unsubscribe", "events": ["session.*"] }));
    let gone = sessions.next();
    assert_eq!(gone["type"], "unsubscribed", "{gone}");
    assert_eq!(gone["events"], json!(["session.*"]));
    let mut witness = Ws::open(&s.addr, None).unwrap();
    witness.subscribe(&["*"]);
    register(&mut control, "bench-2");
    assert_eq!(witness.event_of("bench-2")["event"], "session.registered");
    sessions.pong();
}

#[test]
fn without_allow_origin_no_page_of_another_origin_is_answered() {
    let s = serve(&[]);
    preflight_refused(&s, BENCH, 405);
    let (status, headers, _) = post(&s, &[("Origin", BENCH)], &get_state());
    assert_eq!(status, 200);
    assert!(no_cors_headers(&headers), "{headers:?}");
    handshake_refused(&s, REMOTE, 403);
}

#[test]
fn allowed_origins_get_the_cors_exchange_and_no_other() {
    let s = serve(&["--allow-origin", BENCH, "--allow-origin", REMOTE]);
    for origin in [BENCH, REMOTE] {
        let (status, headers) = preflight(&s, origin);
        assert_eq!(status, 204, "{origin}");
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            Some(origin)
        );
        assert!(
            lists(&headers, "access-control-allow-methods", "POST"),
            "{headers:?}"
        );
        for h in ["content-type", "authorization"] {
            assert!(
                lists(&headers, "access-control-allow-headers", h),
                "{headers:?}"
            );
        }
        let max_age = header(&headers, "access-control-max-age").unwrap();
        assert!(max_age.parse::<u32>().unwrap() > 0, "{max_age}");
        assert!(lists(&headers, "vary", "origin"), "{headers:?}");

        let (status, headers, text) = post(&s, &[("Origin", origin)], &get_state());
        assert_eq!(status, 200);
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            Some(origin)
        );
        assert!(lists(&headers, "vary", "origin"), "{headers:?}");
        answered(&text);
    }

    let other = "http://localhost:3002";
    preflight_refused(&s, other, 405);
    let (_, headers, _) = post(&s, &[("Origin", other)], &get_state());
    assert!(no_cors_headers(&headers), "{headers:?}");

    // The WebSocket opens from an allowed page of another machine, and takes the envelope.
    let mut ws = Ws::open(&s.addr, Some(REMOTE)).unwrap();
    assert!(ws.execute(&get_state())["result"].is_object());
    handshake_refused(&s, "https://evil.example", 403);
}

#[test]
fn an_allowed_origin_still_needs_the_token() {
    let s = serve(&["--token", "s3cret", "--allow-origin", BENCH]);
    // The preflight carries no credentials, and is answered without them.
    let (status, headers) = preflight(&s, BENCH);
    assert_eq!(status, 204);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(BENCH));

    // The real request is not: refused, and the page may read that it was.
    let (status, headers, text) = post(&s, &[("Origin", BENCH)], &get_state());
    assert_eq!(status, 401);
    assert_eq!(text, "");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(BENCH));
    let (status, headers, text) = post(
        &s,
        &[("Origin", BENCH), ("Authorization", "Bearer s3cret")],
        &get_state(),
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(BENCH));
    answered(&text);

    // Another origin's preflight meets the token's check, as any request does.
    preflight_refused(&s, "https://evil.example", 401);
    handshake_refused(&s, BENCH, 401);
}

#[test]
fn an_origin_that_is_not_one_is_refused_at_start() {
    for bad in ["*", "localhost:3001", "http://localhost:3001/app"] {
        let out = World::new()
            .cmd()
            .args(["serve", "--listen", "127.0.0.1:0", "--allow-origin", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is not an origin"), "{bad}: {err}");
    }
}
