//! The dashboard of `coord serve` in a real browser: headless Chromium, driven over its
//! debugging protocol (see `dashboard/browser.rs`; nothing fetched from the network), loads the
//! page from the real server, and the test reads the DOM: the fleet's rows and states, the
//! hosts, the filters, the task queue, the event log. A host says it sleeps and the page shows
//! it asleep on the event alone. Then a watched session is killed and the page must show it
//! dead within a second, without a reload, and its task released once the leader's sweep takes
//! it back. A screenshot is saved as an artifact (`$CARGO_TARGET_TMPDIR/dashboard.png`).
//!
//! Without Chromium the tests say so and pass, unless `CI` is set: there they fail.

#[path = "dashboard/browser.rs"]
mod browser;
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use browser::{Browser, Socket, chromium, next_json};
use common::serve::Served;
use common::{Sleeper, World};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;

/// A running `coord serve` on a world's store, killed when dropped.
struct Server {
    served: Served,
}

impl Server {
    fn start(world: World, extra: &[&str]) -> Self {
        Self {
            served: Served::start(world, extra),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.served.addr)
    }

    /// A WebSocket on `/ws` subscribed to the events after `since`, as a test's own witness.
    fn subscribe(&self) -> Socket {
        let (mut ws, _) = tungstenite::connect(format!("ws://{}/ws", self.served.addr)).unwrap();
        if let MaybeTlsStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        }
        let sub = json!({ "jsonrpc": "2.0", "method": "events.subscribe", "params": {}, "id": 1 });
        ws.send(tungstenite::Message::Text(sub.to_string().into()))
            .unwrap();
        assert_eq!(next_json(&mut ws)["result"]["subscribed"], true);
        ws
    }
}

/// Small DOM readers every page gets: `rows()` (each visible row's id and state),
/// `cell(id, column)` (a cell's text), `hosts()` (each host's row by name), `task(id)` (a
/// task's line in the queue), `logged(kind, session)` (whether the event log shows such an
/// event).
const READERS: &str = r#"
    window.rows = () => Array.from(document.querySelectorAll('#fleet-rows tr[data-id]'),
        (tr) => [tr.dataset.id, tr.dataset.state]);
    window.hosts = () => Object.fromEntries(Array.from(
        document.querySelectorAll('#host-rows tr[data-host]'), (tr) => [tr.dataset.host, {
            state: tr.dataset.state,
            shown: tr.querySelector('.h-state').textContent,
            last: tr.querySelector('.h-last').textContent,
            since: tr.querySelector('.h-since').textContent,
            sessions: Number(tr.querySelector('.h-sessions').textContent),
            picked: tr.classList.contains('on'),
        }]));
    window.cell = (id, c) =>
        document.querySelector(`tr[data-id="${id}"] td.${c}`)?.textContent ?? null;
    window.task = (id) => {
        const d = document.querySelector(`#tasks details[data-task="${id}"]`);
        return d && {
            state: d.dataset.state,
            holder: d.querySelector('.holder')?.textContent ?? null,
            token: d.querySelector('.token')?.textContent ?? null,
            why: d.querySelector('.why')?.textContent ?? null,
            attempts: d.querySelector('.attempts')?.textContent ?? null,
            history: Array.from(d.querySelectorAll('.history li'), (li) => li.textContent),
        };
    };
    window.logged = (kind, who) => Array.from(document.querySelectorAll(`#events li.k-${kind} .who`))
        .some((e) => e.textContent === who);
"#;

/// Where the screenshots go: the target's scratch directory, kept after the test.
fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A JavaScript string literal.
fn js(s: &str) -> String {
    Value::from(s).to_string()
}

const SECOND: Duration = Duration::from_secs(1);
const PATIENCE: Duration = Duration::from_secs(15);

/// The fleet the first test shows: one session in a tool call, one waiting for a prompt, one
/// hung, one on another machine, one about to end, and one held by a watcher, which dies;
/// a task claimed by the one that dies and one given up.
struct Fleet {
    victim: Sleeper,
    watcher: Child,
    /// The task the victim holds, and its token.
    migrate: String,
    token: String,
    /// The task given up.
    bump: String,
    _others: Vec<Sleeper>,
}

impl Fleet {
    fn start(w: &World) -> Self {
        let session = |id: &str, task: &str, runtime: &str, extra: &[&str]| {
            let mut args = vec!["--task", task, "--runtime", runtime];
            args.extend_from_slice(extra);
            w.registered(id, &args)
        };
        let others = vec![
            session(
                "builder",
                "build the release",
                "claude",
                &["--label", "team=infra"],
            ),
            session(
                "reviewer",
                "review the open pull request",
                "codex",
                &["--label", "team=web", "--label", "tmux=review:0.0"],
            ),
            session(
                "tester",
                "run the test suite",
                "pi",
                &["--stale-after", "1s"],
            ),
            session("finished", "tidy the docs", "shell", &[]),
        ];
        w.ok(&[
            "heartbeat",
            "--id",
            "builder",
            "--phase",
            "in-tool",
            "--tool",
            "cargo",
        ]);
        w.ok(&["heartbeat", "--id", "reviewer", "--phase", "waiting"]);
        w.ok(&["heartbeat", "--id", "tester", "--phase", "working"]);
        let remote = w
            .cmd()
            .args([
                "register",
                "--id",
                "remote",
                "--task",
                "nightly backup",
                "--runtime",
                "codex",
            ])
            .env("COORD_HOST", "far-away")
            .output()
            .unwrap();
        assert!(remote.status.success(), "{remote:?}");

        let victim = session(
            "victim",
            "migrate the schema",
            "claude",
            &["--label", "team=infra"],
        );
        let watcher = w
            .cmd()
            .args([
                "watch",
                "--pid",
                &victim.pid(),
                "--id",
                "victim",
                "--interval",
                "30s",
            ])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        while w
            .session("victim")
            .is_none_or(|v| !v["signals"]["watch"].is_object())
        {
            assert!(
                Instant::now() < deadline,
                "the watcher never held the victim"
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        let (migrate, token, bump) = queue(w);
        Self {
            victim,
            watcher,
            migrate,
            token,
            bump,
            _others: others,
        }
    }
}

/// The queue: a task claimed by the victim (its id and token), and one given up (its id).
fn queue(w: &World) -> (String, String, String) {
    let migrate = w.ok(&["task", "add", "--label", "team=infra", "migrate the schema"]);
    let migrate = migrate.trim().to_owned();
    let claim = w.ok(&["task", "claim", "--session", "victim", "--task", &migrate]);
    let token = claim.split_whitespace().nth(1).unwrap().to_owned();
    let bump = w
        .ok(&["task", "add", "bump the dependencies"])
        .trim()
        .to_owned();
    let claim = w.ok(&["task", "claim", "--session", "builder", "--task", &bump]);
    let bump_token = claim.split_whitespace().nth(1).unwrap();
    let reason = "the registry is down";
    w.ok(&[
        "task", "fail", &bump, "--token", bump_token, "--reason", reason,
    ]);
    (migrate, token, bump)
}

/// The rows, their states and cells, the queue and the log, as the page first shows them.
fn shows_the_fleet(b: &mut Browser, w: &World, fleet: &Fleet) {
    b.until(
        "document.querySelector('tr[data-id=\"victim\"]') && rows().length === 7",
        PATIENCE,
    );
    let rows: BTreeMap<String, String> =
        serde_json::from_value::<Vec<(String, String)>>(b.eval("rows()"))
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(rows["builder"], "in-tool", "{rows:?}");
    assert_eq!(rows["reviewer"], "idle", "{rows:?}");
    assert_eq!(rows["victim"], "active", "{rows:?}");
    assert_eq!(rows["finished"], "active", "{rows:?}");
    let server = rows
        .keys()
        .find(|id| id.starts_with("coord-serve@"))
        .expect("the server's own session");
    b.until(
        &format!(
            "document.querySelector('tr[data-id={}] .leader')",
            js(server)
        ),
        PATIENCE,
    );
    let host = w.session("victim").unwrap()["host"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        b.eval("cell('victim', 'c-where')"),
        json!(format!("{host}:{}", fleet.victim.pid()))
    );
    assert_eq!(b.eval("cell('victim', 'c-work')"), json!(fleet.migrate));
    let reason = b.eval("cell('reviewer', 'c-reason')");
    let reason = reason.as_str().unwrap();
    assert!(
        reason.starts_with("turn over") && reason.ends_with("waiting for a prompt"),
        "{reason}"
    );
    let seen = b.eval("cell('victim', 'c-seen')");
    assert!(seen.as_str().unwrap().ends_with("s ago"), "{seen}");

    let claimed = b.eval(&format!("task({})", js(&fleet.migrate)));
    assert_eq!(claimed["state"], "claimed", "{claimed}");
    assert_eq!(claimed["holder"], "victim");
    assert_eq!(claimed["token"], format!("#{}", fleet.token));
    let failed = b.eval(&format!("task({})", js(&fleet.bump)));
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["why"], "the registry is down");
    let history = failed["history"].as_array().unwrap();
    assert!(
        history.len() >= 3
            && history[0]
                .as_str()
                .unwrap()
                .contains("the registry is down"),
        "{failed}"
    );
    b.until("logged('registered', 'victim')", PATIENCE);

    // A row opens on a click to say why: the rule that decided, every signal.
    b.eval("document.querySelector('tr[data-id=\"reviewer\"]').click()");
    let rule = w.session("reviewer").unwrap()["rule"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = b.eval("document.querySelector('tr[data-detail=\"reviewer\"]')?.innerText");
    let detail = detail.as_str().unwrap_or_default();
    assert!(
        detail.contains(&rule) && detail.contains("signals"),
        "{rule}: {detail}"
    );
    // It runs in a tmux pane: the command that takes a person there, to copy (to the
    // clipboard where the page may write it, else selected).
    assert!(detail.contains("coord attach reviewer"), "{detail}");
    b.eval("document.querySelector('tr[data-detail=\"reviewer\"] button.copy').click()");
    b.until(
        "document.querySelector('tr[data-detail=\"reviewer\"] button.copy').textContent === 'copied' \
         || window.getSelection().toString() === 'coord attach reviewer'",
        PATIENCE,
    );
    // A click on a row with text selected selects; with none, it closes the row.
    b.eval("window.getSelection().removeAllRanges()");
    b.eval("document.querySelector('tr[data-id=\"reviewer\"]').click()");
    assert_eq!(
        b.eval("document.querySelectorAll('tr[data-detail]').length"),
        json!(0)
    );
}

/// The hosts: this machine and the far one, each in the state, with the sessions, that `coord
/// hosts --json` gives; then the far one says it sleeps, and the page shows it asleep within
/// a second, from the event alone. Returns this machine's name.
fn shows_the_hosts(b: &mut Browser, w: &World) -> String {
    let here = w.session("victim").unwrap()["host"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed: Value = serde_json::from_str(&w.ok(&["hosts", "--json"])).unwrap();
    let listed: BTreeMap<String, (String, usize)> = listed["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let name = h["name"].as_str().unwrap().to_owned();
            let state = h["state"].as_str().unwrap().to_owned();
            (name, (state, h["sessions"].as_array().unwrap().len()))
        })
        .collect();
    assert_eq!(listed.len(), 2, "this machine and the far one: {listed:?}");
    assert_eq!(listed[&here], ("heard".to_owned(), 6), "{listed:?}");
    assert_eq!(listed["far-away"], ("heard".to_owned(), 1), "{listed:?}");
    b.until("Object.keys(hosts()).length === 2", PATIENCE);
    let shown = b.eval("hosts()");
    for (name, (state, sessions)) in &listed {
        let row = &shown[name];
        assert_eq!(row["state"], state.as_str(), "{name}: {row}");
        assert_eq!(row["shown"], state.as_str(), "{name}: {row}");
        assert_eq!(row["sessions"], *sessions, "{name}: {row}");
        for age in ["last", "since"] {
            let text = row[age].as_str().unwrap();
            assert!(text.ends_with("s ago"), "{name} {age}: {row}");
        }
    }

    w.on_host("far-away", &["host", "sleep"]);
    let took = b.until("hosts()['far-away'].state === 'asleep'", PATIENCE);
    eprintln!("asleep on the page {took:?} after it said so");
    assert!(took < SECOND, "the host's word took {took:?} to show");
    assert_eq!(b.eval("hosts()['far-away'].shown"), json!("asleep"));
    assert_eq!(
        b.eval(&format!("hosts()[{}].state", js(&here))),
        json!("heard")
    );
    b.until("logged('host', 'far-away')", SECOND);
    here
}

/// The filters: by state, host, label and text, kept in the address; ended sessions only on
/// demand; a click on a host shows only its sessions, and a second click all again.
fn filters_narrow_the_rows(b: &mut Browser) {
    let only = |b: &mut Browser, action: &str| -> Vec<String> {
        b.eval(action);
        let rows: Vec<(String, String)> = serde_json::from_value(b.eval("rows()")).unwrap();
        rows.into_iter().map(|(id, _)| id).collect()
    };
    let click = |state: &str| {
        format!("document.querySelector('#state-filter button[data-state=\"{state}\"]').click()")
    };
    let set = |id: &str, value: &str, event: &str| {
        format!(
            "(() => {{ const s = document.getElementById('{id}'); s.value = {}; \
             s.dispatchEvent(new Event('{event}')); }})()",
            js(value)
        )
    };
    assert_eq!(only(b, &click("idle")), ["reviewer"]);
    assert_eq!(only(b, &click("in-tool")), ["builder", "reviewer"]);
    assert_eq!(only(b, &click("")).len(), 6);
    assert_eq!(only(b, &click("ended")), ["finished"]);
    only(b, &click(""));
    assert_eq!(
        only(b, &set("host-filter", "far-away", "change")),
        ["remote"]
    );
    assert_eq!(only(b, &set("host-filter", "", "change")).len(), 6);
    let pick = "document.querySelector('#host-rows tr[data-host=\"far-away\"]').click()";
    assert_eq!(only(b, pick), ["remote"]);
    assert_eq!(
        b.eval("[document.getElementById('host-filter').value, hosts()['far-away'].picked]"),
        json!(["far-away", true])
    );
    assert_eq!(only(b, pick).len(), 6);
    assert_eq!(b.eval("hosts()['far-away'].picked"), json!(false));
    let mut infra = only(b, &set("label-filter", "team=infra", "change"));
    infra.sort();
    assert_eq!(infra, ["builder", "victim"]);
    only(b, &set("label-filter", "", "change"));
    assert_eq!(
        only(b, &set("search", "pull request", "input")),
        ["reviewer"]
    );
    assert_eq!(
        b.eval("location.search"),
        json!("?refresh=0&q=pull+request"),
        "filters are kept in the address"
    );
    assert_eq!(only(b, &set("search", "", "input")).len(), 6);
}

#[test]
fn the_page_shows_the_fleet_live_and_a_death_within_a_second() {
    let Some(binary) = chromium() else { return };
    // The fleet and its queue first: a server already leading would hand the new tasks to the
    // least loaded session before the test's own claims.
    let world = World::new();
    let mut fleet = Fleet::start(&world);
    let server = Server::start(world, &["--grace", "3s", "--lock-delay", "1s"]);
    let w = &server.served.world;

    // The page, with no timed re-list (?refresh=0): whatever changes from now on must come
    // from the event push.
    let mut b = Browser::launch(&binary, READERS);
    b.open(&server.url("/?refresh=0"));
    shows_the_fleet(&mut b, w, &fleet);
    b.eval("window.sameDocument = true");
    let here = shows_the_hosts(&mut b, w);

    // A session ends: its row goes (ended sessions are hidden unless asked for), and its
    // host counts one session less.
    w.ok(&["unregister", "--id", "finished"]);
    b.until(
        &format!(
            "rows().length === 6 && cell('finished', 'c-id') === null \
             && hosts()[{}].sessions === 5",
            js(&here)
        ),
        SECOND,
    );
    filters_narrow_the_rows(&mut b);

    // The victim dies: the page shows it dead within a second.
    let mut witness = server.subscribe();
    fleet.victim.kill();
    let killed = Instant::now();
    b.until("cell('victim', 'c-state') === 'dead'", PATIENCE);
    let shown = killed.elapsed();
    eprintln!("dead on the page {shown:?} after the kill");
    assert!(shown < SECOND, "the death took {shown:?} to show");
    let reason = b.eval("cell('victim', 'c-reason')");
    assert!(reason.as_str().unwrap().contains("gone"), "{reason}");
    assert!(fleet.watcher.wait().unwrap().success());
    b.until("logged('exited', 'victim')", SECOND);
    b.until("cell('tester', 'c-state') === 'stale'", SECOND);
    b.until("document.getAnimations().length === 0", PATIENCE);
    b.screenshot(&artifact("dashboard.png"));

    // The leader's sweep evicts it and takes its task back: the page shows the task pending
    // again within a second of the event.
    let released = loop {
        let notification = next_json(&mut witness);
        let e = &notification["params"];
        if e["kind"] == "unclaimed" && e["task"] == fleet.migrate.as_str() {
            assert_eq!(e["state"], "pending", "{e}");
            break Instant::now();
        }
    };
    b.until(
        &format!("task({})?.state === 'pending'", js(&fleet.migrate)),
        PATIENCE,
    );
    let shown = released.elapsed();
    eprintln!("task released on the page {shown:?} after the event");
    assert!(shown < SECOND, "the release took {shown:?} to show");
    let task = b.eval(&format!("task({})", js(&fleet.migrate)));
    assert_eq!(task["attempts"], "1/3", "{task}");
    b.until(
        "cell('victim', 'c-id') === null && logged('evicted', 'victim')",
        SECOND,
    );

    // All of it without a reload, on the same connection.
    assert_eq!(
        b.eval("window.sameDocument"),
        json!(true),
        "the page reloaded"
    );
    assert_eq!(
        b.eval("document.getElementById('conn').dataset.conn"),
        json!("live")
    );
    b.screenshot(&artifact("dashboard-released.png"));
}

#[test]
fn with_a_token_the_page_asks_for_it_and_the_socket_takes_it_as_a_subprotocol() {
    let secret = "s3cret/t0ken";
    let s = Server::start(World::new(), &["--token", secret]);
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();

    // The page and its files hold no data: served without the token, and locked down.
    for (path, kind) in [
        ("/", "text/html"),
        ("/dashboard.js", "text/javascript"),
        ("/dashboard.css", "text/css"),
    ] {
        let resp = http.get(s.url(path)).call().unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(kind), "{path}");
        assert!(
            header("content-security-policy").contains("default-src 'none'"),
            "{path}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff");
    }
    // Everything else still needs it.
    for path in ["/healthz", "/metrics", "/ws"] {
        assert_eq!(
            http.get(s.url(path)).call().unwrap().status().as_u16(),
            401,
            "{path}"
        );
    }

    // The socket takes the token as a subprotocol, in hex, and answers with `coord`; then a
    // page of any origin may open it (it holds the secret).
    let handshake = |protocols: &str, origin: Option<&str>| {
        let url = format!("ws://{}/ws", s.served.addr);
        let mut req = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
        if let Some(o) = origin {
            req.headers_mut().insert("Origin", o.parse().unwrap());
        }
        tungstenite::connect(req)
    };
    let hex: String = secret
        .bytes()
        .flat_map(|b| [b >> 4, b & 15])
        .map(|n| char::from_digit(u32::from(n), 16).unwrap())
        .collect();
    let good = format!("coord, coord-token.{hex}");
    let (mut ws, resp) = handshake(&good, Some("http://10.1.2.3:7077")).unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "coord");
    let call = json!({ "jsonrpc": "2.0", "method": "session.list", "params": {}, "id": 1 });
    ws.send(tungstenite::Message::Text(call.to_string().into()))
        .unwrap();
    assert!(next_json(&mut ws)["result"]["sessions"].is_array());
    for bad in [
        "coord".to_owned(),
        format!("coord, coord-token.{}", &hex[2..]),
        format!("coord, coord-token.{hex}00"),
        format!("coord, coord-token.{secret}"),
    ] {
        match handshake(&bad, None) {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 401, "{bad}"),
            other => panic!("{bad}: {:?}", other.map(|_| ())),
        }
    }

    let Some(binary) = chromium() else { return };
    let _agent = s
        .served
        .world
        .registered("worker", &["--task", "index the docs"]);
    let mut b = Browser::launch(&binary, READERS);

    // Without the token the page asks for it; a wrong one is refused; the right one connects.
    b.open(&s.url("/"));
    b.until("!document.getElementById('login').hidden", PATIENCE);
    assert_eq!(
        b.eval("document.getElementById('conn-text').textContent"),
        json!("token needed")
    );
    let submit = |token: &str| {
        format!(
            "(() => {{ document.getElementById('login-token').value = {}; document.getElementById('login').requestSubmit(); }})()",
            js(token)
        )
    };
    b.eval(&submit("wrong"));
    b.until(
        "document.getElementById('conn-text').textContent === 'wrong token'",
        PATIENCE,
    );
    b.eval(&submit(secret));
    b.until("document.querySelector('tr[data-id=\"worker\"]')", PATIENCE);
    assert_eq!(
        b.eval("document.getElementById('login').hidden"),
        json!(true)
    );

    // A link with the token in its fragment (never sent to the server) works too, and the
    // token leaves the address bar at once.
    b.eval("sessionStorage.clear()");
    b.open(&format!("{}#token={secret}", s.url("/?link")));
    b.until("document.querySelector('tr[data-id=\"worker\"]')", PATIENCE);
    assert_eq!(b.eval("location.href"), json!(s.url("/?link")));
}

/// "Waiting for you": above the fleet, the sessions blocked on a person, the longest wait
/// first; a click opens the session's row, and one answered leaves the list at once.
#[test]
fn the_sessions_waiting_for_a_person_are_listed_the_longest_wait_first() {
    let Some(binary) = chromium() else { return };
    let world = World::new();
    for id in ["first", "second", "busy"] {
        world.claude_hook(id, "SessionStart", r#","source":"startup""#);
        world.claude_hook(id, "UserPromptSubmit", r#","prompt":"go""#);
    }
    world.claude_hook("first", "PermissionRequest", r#","tool_name":"Bash""#);
    std::thread::sleep(Duration::from_millis(1100));
    world.claude_hook("second", "PermissionRequest", r#","tool_name":"Edit""#);
    let server = Server::start(world, &[]);

    let mut b = Browser::launch(&binary, READERS);
    b.open(&server.url("/?refresh=0"));
    b.until(
        "document.querySelectorAll('#waiting-rows li').length === 2",
        PATIENCE,
    );
    let waiting =
        "Array.from(document.querySelectorAll('#waiting-rows li'), (li) => li.dataset.waiting)";
    assert_eq!(b.eval(waiting), json!(["first", "second"]));
    assert_eq!(
        b.eval("document.getElementById('waiting').hidden"),
        json!(false)
    );
    let first = b.eval("document.querySelector('#waiting-rows li').innerText");
    assert!(
        first
            .as_str()
            .unwrap_or_default()
            .contains("permission for Bash"),
        "{first}"
    );

    b.eval("document.querySelector('#waiting-rows li').click()");
    b.until(
        "document.querySelector('tr[data-detail=\"first\"]')",
        PATIENCE,
    );

    // Answered: the event pushes it out of the list.
    let w = &server.served.world;
    w.claude_hook(
        "first",
        "PostToolUse",
        r#","tool_name":"Bash","tool_use_id":"t1""#,
    );
    b.until(
        "document.querySelectorAll('#waiting-rows li').length === 1",
        PATIENCE,
    );
    assert_eq!(b.eval(waiting), json!(["second"]));
}
