//! `COORD_URL=http://…`: the command line as a client of a real `coord serve`. The store
//! conformance suite runs on the remote store (every operation a `store.*` call to the
//! server), and the commands give the same output and exit codes as on a local store, with the
//! bearer token when the server wants one, and a silent, bounded hook when it is down.

mod common;
#[path = "../../coord-store/tests/conformance/mod.rs"]
mod conformance;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::serve::Served;
use common::{World, succeed};
use coord_store::{Config, Store, StoreUrl};
use serde_json::Value;

/// A `coord serve` on a private embedded store, reached through the remote store.
struct Remote {
    served: Served,
}

impl Remote {
    fn new() -> Self {
        Self {
            served: Served::start(World::new(), &[]),
        }
    }
}

impl conformance::Backend for Remote {
    /// The suite's namespaces, prefixed: the server's own namespace holds its own session.
    fn open_with(&self, config: Config) -> Box<dyn Store> {
        let url = StoreUrl::parse(Some(&self.served.url()), |_| None).unwrap();
        let config = Config {
            namespace: format!("suite-{}", config.namespace),
            ..config
        };
        coord_store::open(&url, &config).unwrap()
    }
}

conformance_suite!(Remote::new());

/// A world whose `COORD_URL` is the server's.
fn client_of(served: &Served) -> World {
    World::on(served.url())
}

/// Runs `coord hook <name>` with `event` on stdin, as an agent does.
fn hook(world: &World, name: &str, event: &str) -> Output {
    use std::io::Write;
    let mut child = world
        .cmd()
        .args(["hook", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(event.as_bytes());
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The fleet as `coord ps --json` prints it, without what differs between two reads (times).
fn fleet(world: &World) -> Vec<(String, String, String)> {
    let ps: Value = serde_json::from_str(&world.ok(&["ps", "--all", "--json"])).unwrap();
    let mut rows: Vec<_> = ps["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["id"].as_str().unwrap().starts_with("coord-serve@"))
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap().to_owned(),
                s["task"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn commands_through_the_server_see_and_change_the_servers_store() {
    let served = Served::start(World::new(), &[]);
    let client = client_of(&served);
    client.ok(&["register", "--id", "w1", "--task", "build the parser"]);
    client.ok(&["heartbeat", "--id", "w1"]);
    client.ok(&["register", "--id", "w2", "--task", "review"]);
    client.ok(&["unregister", "--id", "w2"]);

    // The server's own store holds what the client did, and both views agree.
    let local = &served.world;
    assert_eq!(fleet(&client), fleet(local));
    let rows = fleet(local);
    assert!(
        rows.contains(&("w1".into(), "active".into(), "build the parser".into())),
        "{rows:?}"
    );
    let show: Value = serde_json::from_str(&client.ok(&["show", "w1", "--json"])).unwrap();
    assert_eq!(show["session"]["beats"], 1, "{show}");

    // Tasks with their fencing tokens.
    client.ok(&["task", "add", "--id", "t1", "fix", "the", "bug"]);
    let claim = client.ok(&["task", "claim", "--session", "w1"]);
    assert!(claim.starts_with("t1 "), "{claim}");
    let tasks = local.ok(&["task", "list"]);
    assert!(tasks.contains("t1") && tasks.contains("w1"), "{tasks}");

    // The same exit codes: 1 for a session that is not registered.
    let out = client
        .cmd()
        .args(["heartbeat", "--id", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("nobody"), "{}", stderr(&out));
}

#[test]
fn a_hook_through_the_server_registers_and_beats() {
    let served = Served::start(World::new(), &[]);
    let client = client_of(&served);
    let event = r#"{"session_id":"s-remote","hook_event_name":"PostToolUse","cwd":"/tmp","tool_name":"Bash"}"#;
    let out = hook(&client, "PostToolUse", event);
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let show: Value =
        serde_json::from_str(&served.world.ok(&["show", "s-remote", "--json"])).unwrap();
    assert_eq!(show["session"]["id"], "s-remote", "{show}");
}

#[test]
fn a_server_with_a_token_wants_it_from_the_client() {
    let served = Served::start(World::new(), &["--token", "s3cret-token"]);
    let client = client_of(&served);
    let out = client.cmd().args(["ps"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("401") || err.contains("token"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");

    let out = client
        .cmd()
        .env("COORD_TOKEN", "s3cret-token")
        .args(["register", "--id", "w1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fleet(&served.world).iter().any(|(id, _, _)| id == "w1"));
}

#[test]
fn a_server_that_is_down_fails_commands_clearly_and_hooks_silently_and_fast() {
    let mut served = Served::start(World::new(), &[]);
    let client = client_of(&served);
    served.kill();

    let out = client.cmd().args(["ps"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("cannot reach http://{}", served.addr)),
        "{}",
        stderr(&out)
    );

    let event = r#"{"session_id":"s1","hook_event_name":"PostToolUse"}"#;
    let start = Instant::now();
    let out = hook(&client, "PostToolUse", event);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn a_url_that_is_not_a_server_address_is_a_usage_error() {
    for url in [
        "http://",
        "http://host",
        "http://host:port",
        "http://host:1/path",
    ] {
        let out = World::on(url.to_owned())
            .cmd()
            .args(["ps"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{url}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("http://host:port"),
            "{}",
            stderr(&out)
        );
    }
    // A server cannot serve another server.
    let served = Served::start(World::new(), &[]);
    let out = client_of(&served)
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    succeed(served.world.cmd().args(["ps"]));
}
