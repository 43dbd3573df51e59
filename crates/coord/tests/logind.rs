//! The per-host watcher follows systemd-logind: on a real D-Bus daemon of the test's own, the
//! test plays logind (it owns `org.freedesktop.login1`, hands out delay inhibitors and sends
//! `PrepareForSleep` and `PrepareForShutdown`), and `coord watch --all` turns each signal into
//! the host's word before it lets the inhibitor go: asleep, awake (a new inhibitor taken),
//! and down with its sessions ended.

mod common;

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::bus::Bus;
use common::{Sleeper, World};
use serde_json::Value;
use zbus::blocking::Connection;

/// logind as the test plays it: the read end of every inhibitor it handed out.
#[derive(Clone, Default)]
struct Logind {
    inhibitors: Arc<Mutex<Vec<OwnedFd>>>,
}

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl Logind {
    fn inhibit(&self, what: &str, who: &str, why: &str, mode: &str) -> zbus::zvariant::OwnedFd {
        assert_eq!((what, who, mode), ("sleep:shutdown", "coord", "delay"));
        assert!(!why.is_empty());
        let (read, write) = rustix::pipe::pipe().unwrap();
        self.inhibitors.lock().unwrap().push(read);
        write.into()
    }
}

impl Logind {
    fn handed_out(&self) -> usize {
        self.inhibitors.lock().unwrap().len()
    }

    /// Whether the holder of inhibitor `n` let it go (its end of the pipe is closed).
    fn let_go(&self, n: usize) -> bool {
        let fd = self.inhibitors.lock().unwrap()[n].try_clone().unwrap();
        rustix::io::ioctl_fionbio(fd.as_fd(), true).unwrap();
        let mut buf = [0u8; 1];
        matches!(std::fs::File::from(fd).read(&mut buf), Ok(0))
    }
}

fn send(conn: &Connection, signal: &str, before: bool) {
    conn.emit_signal(
        None::<&str>,
        "/org/freedesktop/login1",
        "org.freedesktop.login1.Manager",
        signal,
        &(before,),
    )
    .unwrap();
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_watcher_says_what_logind_says_the_machine_is_about_to_do() {
    let bus = Bus::start();
    let logind = Logind::default();
    let conn = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.login1")
        .unwrap()
        .serve_at("/org/freedesktop/login1", logind.clone())
        .unwrap()
        .build()
        .unwrap();

    let w = World::new();
    let agent = Sleeper::start();
    w.on_host("laptop", &["register", "--id", "a1", "--pid", &agent.pid()]);
    let mut watcher = w
        .cmd()
        .env("COORD_HOST", "laptop")
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .args(["watch", "--all", "--no-hook-listen", "--interval", "30s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the watcher takes a delay inhibitor", || {
        logind.handed_out() == 1
    });
    // The laptop as another host sees it.
    let laptop = || -> Value {
        let doc: Value = serde_json::from_str(&w.on_host("desk", &["hosts", "--json"])).unwrap();
        doc["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == "laptop")
            .unwrap()
            .clone()
    };
    assert_eq!(laptop()["notice"], Value::Null);

    send(&conn, "PrepareForSleep", true);
    wait_for("the watcher lets its inhibitor go", || logind.let_go(0));
    // The word was written before the inhibitor went.
    assert_eq!(laptop()["state"], "asleep", "{}", laptop());

    send(&conn, "PrepareForSleep", false);
    wait_for("awake, it takes a new inhibitor", || {
        logind.handed_out() == 2
    });
    assert_eq!(laptop()["notice"], Value::Null, "{}", laptop());
    assert!(!logind.let_go(1));

    send(&conn, "PrepareForShutdown", true);
    wait_for("the watcher lets its inhibitor go", || logind.let_go(1));
    assert_eq!(laptop()["state"], "down", "{}", laptop());
    let shown: Value = serde_json::from_str(&w.ok(&["show", "a1", "--json"])).unwrap();
    assert_eq!(shown["session"]["phase"], "ended", "{shown}");

    let _ = watcher.kill();
    let _ = watcher.wait();
}
