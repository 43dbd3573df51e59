//! Notifications through the real binary, every channel real: a webhook is an HTTP listener of
//! the test's own, `exec` a shell command writing what it is given to a file, `desktop` a
//! notification server of the test's own (org.freedesktop.Notifications, on a private
//! `dbus-daemon`). `coord notify test` reaches all three; a bad config file is refused naming
//! its rule, by `coord notify test`, `coord watch` and `coord doctor`; a running `coord watch`
//! tells once of a session that became blocked, after `notify_after`; a webhook answering 500
//! is tried again, and `coord doctor` shows the failure.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::bus::Bus;
use common::{World, feed};
use serde_json::Value;

/// One call of `Notify`, every argument as sent.
#[derive(Clone, Debug)]
struct Shown {
    app_name: String,
    replaces_id: u32,
    app_icon: String,
    summary: String,
    body: String,
    actions: Vec<String>,
    urgency: Option<u8>,
    expire_timeout: i32,
}

/// A desktop's notification server as the test plays it: what it was asked to show.
#[derive(Clone, Default)]
struct Desktop {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Desktop {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        mut hints: HashMap<String, zbus::zvariant::OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.remove("urgency").and_then(|v| u8::try_from(v).ok());
        let mut shown = self.shown.lock().unwrap();
        shown.push(Shown {
            app_name,
            replaces_id,
            app_icon,
            summary,
            body,
            actions,
            urgency,
            expire_timeout,
        });
        shown.len() as u32
    }
}

/// One request a webhook received.
#[derive(Clone, Debug)]
struct Request {
    /// The request line and headers.
    head: String,
    body: Value,
}

/// A webhook: an HTTP listener on loopback that answers every request with `status`.
struct Webhook {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Request>>>,
}

impl Webhook {
    fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                if let Some(request) = read_request(&mut stream) {
                    log.lock().unwrap().push(request);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Test\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Self { addr, received }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn received(&self) -> Vec<Request> {
        self.received.lock().unwrap().clone()
    }
}

/// Reads one HTTP request: its head, then as many bytes of body as it says.
fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while data.len() < end + length {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    }
    let body = serde_json::from_slice(&data[end..end + length]).ok()?;
    Some(Request { head, body })
}

/// `coord watch --all` on a world, killed when dropped.
struct Watcher(Child);

impl Watcher {
    fn start(world: &World) -> Self {
        Self(
            world
                .cmd()
                .args(["watch", "--all", "--no-hook-listen", "--interval", "100ms"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes the world's config file (`~/.config/coord/config.toml` under its HOME).
fn write_config(world: &World, text: &str) -> PathBuf {
    let path = world.dir.path().join(".config/coord/config.toml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

/// Waits up to `limit` for `done`, failing with `what` after.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Makes session `id` wait for a person: Claude Code's `PreToolUse` for `AskUserQuestion`.
fn ask_a_question(world: &World, id: &str) {
    let event = serde_json::json!({
        "session_id": id,
        "hook_event_name": "PreToolUse",
        "tool_name": "AskUserQuestion",
        "tool_input": { "questions": [] },
    });
    let out = feed(
        world.cmd().args(["hook", "PreToolUse"]),
        event.to_string().as_bytes(),
    );
    assert!(out.status.success());
    assert_eq!(world.state(id), "blocked");
}

/// The lines of a file that may not exist yet.
fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// This machine's name, as coord records it.
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// The text of `coord notify test`'s sample event.
const SAMPLE_REASON: &str = "waiting for your answer to its question (a test of coord notify)";

/// Checks that the desktop showed `coord notify test`'s sample event, once.
fn assert_shown_the_sample(desktop: &Desktop) {
    let (host, attach) = (host_name(), "coord attach coord-notify-test");
    let shown = desktop.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1, "{shown:?}");
    let shown = &shown[0];
    assert_eq!(
        (
            shown.app_name.as_str(),
            shown.summary.as_str(),
            shown.urgency
        ),
        ("coord", "coord-notify-test is blocked", Some(2)),
        "critical: a person is waited for"
    );
    assert_eq!(
        (
            shown.replaces_id,
            shown.app_icon.as_str(),
            shown.actions.len(),
            shown.expire_timeout
        ),
        (0, "", 0, -1),
        "a new notification, no icon, no actions, the server's own timeout"
    );
    assert_eq!(
        shown.body,
        format!("{SAMPLE_REASON}\ntask: a sample task\non {host}\n{attach}")
    );
}

/// Checks that the webhook received `coord notify test`'s sample event, once, with the rule's
/// header; returns the event.
fn assert_posted_the_sample(webhook: &Webhook) -> Value {
    let (host, attach) = (host_name(), "coord attach coord-notify-test");
    let received = webhook.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert!(
        request.head.starts_with("POST /hook HTTP/1.1\r\n"),
        "{}",
        request.head
    );
    assert!(
        request
            .head
            .to_ascii_lowercase()
            .contains("\r\nauthorization: bearer s3cret\r\n"),
        "{}",
        request.head
    );
    assert_eq!(
        request.body["text"],
        format!("coord-notify-test on {host} is blocked: {SAMPLE_REASON} — {attach}")
    );
    assert_eq!(request.body["event"]["id"], "coord-notify-test");
    assert_eq!(request.body["event"]["previous"], "active");
    request.body["event"].clone()
}

#[test]
fn notify_test_reaches_the_desktop_a_webhook_and_a_command() {
    let bus = Bus::start();
    let desktop = Desktop::default();
    let _server = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at("/org/freedesktop/Notifications", desktop.clone())
        .unwrap()
        .build()
        .unwrap();
    let webhook = Webhook::start(200);
    let w = World::new();
    let exec_out = w.dir.path().join("exec.json");
    let config = write_config(
        &w,
        &format!(
            r#"
            [[notify]]
            states = ["blocked"]
            desktop = true

            [[notify]]
            states = ["blocked", "dead"]
            webhook = "{}"
            webhook_header = "Authorization: Bearer s3cret"

            [[notify]]
            states = ["turn-done"]
            exec = "cat > '{}'"
            "#,
            webhook.url(),
            exec_out.display()
        ),
    );
    assert_eq!(
        w.ok(&["config", "path"]).trim(),
        config.display().to_string()
    );

    let out = w
        .cmd()
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .args(["notify", "test"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "ok    rule 1 (desktop)\nok    rule 2 (webhook http://{})\nok    rule 3 (exec `cat > '{}'`)\n",
            webhook.addr,
            exec_out.display()
        )
    );

    assert_shown_the_sample(&desktop);
    let posted = assert_posted_the_sample(&webhook);
    let event: Value = serde_json::from_str(&fs::read_to_string(&exec_out).unwrap()).unwrap();
    assert_eq!(event, posted, "every channel sends the same event");
}

#[test]
fn notify_test_names_the_rule_that_failed_and_why() {
    let webhook = Webhook::start(500);
    let w = World::new();
    write_config(
        &w,
        &format!(
            "[[notify]]\nstates = [\"dead\"]\nexec = \"true\"\n\n\
             [[notify]]\nstates = [\"dead\"]\nwebhook = \"{}\"\n\n\
             [[notify]]\nstates = [\"dead\"]\nexec = \"echo no mail today >&2; exit 4\"\n",
            webhook.url()
        ),
    );
    let out = w.run(&["notify", "test"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let printed = stdout(&out);
    let printed: Vec<&str> = printed.lines().collect();
    assert_eq!(printed[0], "ok    rule 1 (exec `true`)");
    assert!(
        printed[1].starts_with(&format!(
            "fail  rule 2 (webhook http://{}): HTTP 500",
            webhook.addr
        )),
        "{}",
        printed[1]
    );
    assert_eq!(
        printed[2],
        "fail  rule 3 (exec `echo no mail today >&2; exit 4`): exit status: 4: no mail today"
    );
    assert_eq!(webhook.received().len(), 1, "coord notify test tries once");
}

#[test]
fn a_bad_config_file_is_refused_naming_its_rule() {
    let w = World::new();
    let path = write_config(
        &w,
        "[[notify]]\nstates = [\"blocked\"]\ndesktop = true\n\n\
         [[notify]]\nstates = [\"dead\"]\ndesktop = true\nexec = \"true\"\n",
    );
    let expected = format!(
        "{}: [[notify]] rule 2: 2 channels (desktop and exec): a rule has exactly one",
        path.display()
    );
    let out = w.run(&["notify", "test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));

    // The watcher refuses to start on it, at once.
    let started = Instant::now();
    let out = w
        .cmd()
        .args(["watch", "--all", "--no-hook-listen"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));

    let out = w.run(&["doctor"]);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains(&format!("fail  config: {expected}")),
        "{}",
        stdout(&out)
    );

    write_config(&w, "[[notify]]\nstates = [\"blokked\"]\nexec = \"true\"\n");
    let out = w.run(&["notify", "test"]);
    assert!(
        stderr(&out).contains("[[notify]] rule 1: unknown state `blokked`"),
        "{}",
        stderr(&out)
    );

    // A good one, and doctor counts its rules.
    write_config(
        &w,
        "notify_after = \"1s\"\n[[notify]]\nstates = [\"dead\"]\nexec = \"true\"\n",
    );
    let doctor = stdout(&w.run(&["doctor"]));
    assert!(
        doctor.contains(&format!(
            "ok    config {}: 1 notification rules",
            path.display()
        )),
        "{doctor}"
    );
}

#[test]
fn a_session_that_becomes_blocked_is_told_once_after_notify_after() {
    let w = World::new();
    let out = w.dir.path().join("notified");
    write_config(
        &w,
        &format!(
            r#"
            notify_after = "300ms"

            [[notify]]
            states = ["blocked"]
            exec = "cat >> '{0}.json'; echo >> '{0}.json'; echo \"$COORD_ID $COORD_STATE $COORD_PREVIOUS\" >> '{0}.env'"
            "#,
            out.display()
        ),
    );
    let events = out.with_extension("json");
    let env = out.with_extension("env");
    let _agent = w.registered("s1", &[]);
    let _watcher = Watcher::start(&w);
    // Its first rounds learn what is there (s1 active), and tell nothing.
    thread::sleep(Duration::from_millis(500));
    assert!(lines(&events).is_empty());

    let blocked_at = Instant::now();
    ask_a_question(&w, "s1");
    wait_for("the watcher tells", Duration::from_secs(3), || {
        !lines(&events).is_empty()
    });
    assert!(
        blocked_at.elapsed() >= Duration::from_millis(300),
        "told after {:?}, before notify_after",
        blocked_at.elapsed()
    );
    // Once.
    thread::sleep(Duration::from_millis(800));
    let told = lines(&events);
    assert_eq!(told.len(), 1, "{told:?}");
    let event: Value = serde_json::from_str(&told[0]).unwrap();
    assert_eq!(
        (&event["id"], &event["state"], &event["previous"]),
        (&"s1".into(), &"blocked".into(), &"active".into())
    );
    let reason = event["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("waiting for your answer to its question"),
        "{reason}"
    );
    assert_eq!(event["attach"], "coord attach s1");
    assert_eq!(lines(&env), ["s1 blocked active"]);
}

#[test]
fn a_failing_webhook_is_tried_again_and_doctor_shows_it() {
    let webhook = Webhook::start(500);
    let w = World::new();
    write_config(
        &w,
        &format!(
            "notify_after = \"200ms\"\n[[notify]]\nstates = [\"blocked\"]\nwebhook = \"{}\"\n",
            webhook.url()
        ),
    );
    let _agent = w.registered("s1", &[]);
    let _watcher = Watcher::start(&w);
    thread::sleep(Duration::from_millis(400));
    ask_a_question(&w, "s1");
    // The first attempt, then another a second later.
    wait_for("the webhook is tried again", Duration::from_secs(4), || {
        webhook.received().len() >= 2
    });
    let received = webhook.received();
    assert!(
        received
            .iter()
            .all(|r| r.body["event"]["id"] == "s1" && r.body["event"]["state"] == "blocked"),
        "{received:?}"
    );
    let line = format!(
        "fail  notify rule 1 (webhook http://{}): 0 sent, ",
        webhook.addr
    );
    let mut doctor = String::new();
    wait_for("doctor shows the failure", Duration::from_secs(2), || {
        doctor = stdout(&w.run(&["doctor"]));
        doctor.lines().any(|l| {
            l.starts_with(&line)
                && !l.contains(" 0 failed")
                && l.contains("; last error now: HTTP 500")
        })
    });
}
