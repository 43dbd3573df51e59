//! The multi-host harness itself (`hosts/`): real PID + UTS namespaces as machines, each
//! behind its own proxy to one store, and the proxy's faults, proven on a real fleet.

mod common;
mod hosts;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use hosts::{Host, Mode, Proxy, Target, Upstream, serve_embedded};
use serde_json::Value;
use support::RedisServer;

/// What the hook path may cost an agent, whatever the store does.
const HOOK_LIMIT: Duration = Duration::from_millis(300);

/// Registers, on `host`, a `sleep` of that host as session `id`; returns the sleep.
fn agent(host: &Host, id: &str) -> hosts::HostProcess {
    let sleep = host.spawn(&["sleep", "1000"]);
    host.ok(&["register", "--id", id, "--pid", &sleep.pid().to_string()]);
    sleep
}

/// `(id, host, pid)` of every session of a simulated host that `host` lists (not the
/// `coord serve` that may run beside them, which is a session of its own machine).
fn sessions(host: &Host) -> Vec<(String, String, i64)> {
    host.ps()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["id"].as_str().unwrap().starts_with("coord-serve@"))
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["host"].as_str().unwrap().to_owned(),
                s["pid"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Two hosts on `upstream`: each sees both sessions, each on its own host, and each host's
/// name is its host name.
fn two_hosts_see_one_fleet(upstream: &Upstream) {
    let a = Host::start("host-a", upstream);
    let b = Host::start("host-b", upstream);
    assert_ne!(a.proxy().addr(), b.proxy().addr());
    for h in [&a, &b] {
        assert_eq!(h.exec(&["hostname"]).stdout().trim(), h.name());
    }
    let sleep_a = agent(&a, "a1");
    let sleep_b = agent(&b, "b1");
    // Inside its host the agent is a low PID; outside it is another.
    assert_ne!(sleep_a.pid(), sleep_a.outer_pid());
    let expected = vec![
        (
            "a1".to_owned(),
            "host-a".to_owned(),
            i64::from(sleep_a.pid()),
        ),
        (
            "b1".to_owned(),
            "host-b".to_owned(),
            i64::from(sleep_b.pid()),
        ),
    ];
    assert_eq!(sessions(&a), expected);
    assert_eq!(sessions(&b), expected);
    // Each host finds its own agent alive through its own /proc.
    for h in [&a, &b] {
        for id in ["a1", "b1"] {
            assert_eq!(
                h.session(id).unwrap()["state"],
                "active",
                "{id} from {}",
                h.name()
            );
        }
    }
    assert!(a.proxy().accepted() > 0 && b.proxy().accepted() > 0);
}

#[test]
fn two_hosts_on_one_redis_see_one_fleet() {
    let redis = RedisServer::start();
    two_hosts_see_one_fleet(&Upstream::redis(&redis));
}

#[test]
fn two_hosts_on_one_coord_serve_see_one_fleet() {
    let served = serve_embedded();
    two_hosts_see_one_fleet(&Upstream::served(&served));
}

/// When session `id` was last seen, as `host` lists it.
fn last_seen(host: &Host, id: &str) -> Value {
    host.session(id).unwrap()["last_seen"].clone()
}

/// Through a cut and a black-holed link, the hook exits 0 at once and silently, and lands
/// nothing; once healed, a hook lands again.
fn hooks_survive_a_cut_and_a_black_hole(upstream: &Upstream) {
    let host = Host::start("flaky", upstream);
    let _sleep = agent(&host, "a1");
    let event = r#"{"session_id":"a1","hook_event_name":"PostToolUse"}"#;
    host.hook(event).assert_silent_within(HOOK_LIMIT);
    let before = last_seen(&host, "a1");
    for fault in [Proxy::cut, Proxy::black_hole] {
        fault(host.proxy());
        let ran = host.hook(event);
        eprintln!("{:?}: the hook took {:?}", host.proxy().mode(), ran.took);
        ran.assert_silent_within(HOOK_LIMIT);
        // Commands a person runs fail (and say so) rather than hang.
        let ps = host.run(&["ps"]);
        assert!(!ps.success(), "ps through a {:?} link", host.proxy().mode());
        host.proxy().heal();
        assert_eq!(last_seen(&host, "a1"), before, "nothing landed");
    }
    thread::sleep(Duration::from_millis(20));
    host.hook(event).assert_silent_within(HOOK_LIMIT);
    assert_ne!(last_seen(&host, "a1"), before, "the healed hook landed");
}

#[test]
fn hooks_survive_a_cut_and_a_black_hole_to_redis() {
    let redis = RedisServer::start();
    hooks_survive_a_cut_and_a_black_hole(&Upstream::redis(&redis));
}

#[test]
fn hooks_survive_a_cut_and_a_black_hole_to_coord_serve() {
    let served = serve_embedded();
    hooks_survive_a_cut_and_a_black_hole(&Upstream::served(&served));
}

#[test]
fn a_redis_outage_and_its_end() {
    let mut redis = RedisServer::start_durable();
    let host = Host::start("outage", &Upstream::redis(&redis));
    let _sleep = agent(&host, "a1");
    redis.stop();
    let event = r#"{"session_id":"a1"}"#;
    host.hook(event).assert_silent_within(HOOK_LIMIT);
    assert!(!host.run(&["ps"]).success());
    redis.start_again();
    // The store kept what it had acknowledged.
    assert_eq!(sessions(&host)[0].0, "a1");
    host.hook(event).assert_silent_within(HOOK_LIMIT);
}

#[test]
fn kill_all_ends_the_namespace_and_freeze_stops_every_process_until_thaw() {
    let redis = RedisServer::start();
    let mut host = Host::start("doomed", &Upstream::redis(&redis));
    let mut sleep = agent(&host, "a1");
    // A process that forks, and an orphan the namespace's init adopts.
    let _forks = host.spawn(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    host.exec(&["sh", "-c", "sleep 1000 >/dev/null 2>&1 &"]);
    let procs = host.processes();
    assert!(procs.len() >= 6, "{procs:#?}");
    assert!(procs.iter().any(|p| p.pid == host.init_pid()));
    assert!(procs.iter().all(|p| !p.stopped()), "{procs:#?}");

    host.freeze();
    let frozen = host.processes();
    assert_eq!(frozen.len(), procs.len(), "{frozen:#?}");
    assert!(frozen.iter().all(|p| p.state == 'T'), "{frozen:#?}");
    // Still frozen a moment later: nothing resumed them behind our back.
    thread::sleep(Duration::from_millis(50));
    assert!(host.processes().iter().all(|p| p.state == 'T'));

    host.thaw();
    let thawed = host.processes();
    assert_eq!(thawed.len(), procs.len());
    assert!(thawed.iter().all(|p| !p.stopped()), "{thawed:#?}");
    assert!(sleep.alive());

    let start = Instant::now();
    host.kill_all();
    eprintln!("kill_all took {:?}", start.elapsed());
    let survivors: Vec<_> = procs.iter().filter(|p| p.alive()).collect();
    assert!(survivors.is_empty(), "{survivors:#?}");
    // The processes the test started see their end too (nsenter reports the SIGKILL).
    let status = sleep.wait();
    assert!(!status.success(), "{status}");
    assert!(!sleep.alive());
}

/// An echo server on loopback, for the proxy alone.
fn echo() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            thread::spawn(move || {
                let mut buf = [0; 1024];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Sends `ping` on `conn` and reads the answer, within `wait`.
fn round_trip(conn: &mut TcpStream, wait: Duration) -> std::io::Result<Vec<u8>> {
    conn.set_read_timeout(Some(wait))?;
    conn.write_all(b"ping")?;
    let mut buf = [0; 4];
    conn.read_exact(&mut buf)?;
    Ok(buf.to_vec())
}

#[test]
fn the_proxy_forwards_cuts_black_holes_heals_and_stops() {
    let proxy = Proxy::start(Target::Tcp(echo()));
    let addr = proxy.addr();
    assert!(addr.ip().is_loopback());
    let wait = Duration::from_secs(2);
    let mut old = TcpStream::connect(addr).unwrap();
    assert_eq!(round_trip(&mut old, wait).unwrap(), b"ping");
    assert_eq!(proxy.open_connections(), 1);

    // Cut: the open connection ends at once, a new one is reset at once.
    proxy.cut();
    let start = Instant::now();
    assert!(round_trip(&mut old, wait).is_err());
    let mut new = TcpStream::connect(addr).unwrap();
    assert!(round_trip(&mut new, wait).is_err());
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );

    // Heal, then black-hole: the open connection and a new one hang.
    proxy.heal();
    let mut old = TcpStream::connect(addr).unwrap();
    assert_eq!(round_trip(&mut old, wait).unwrap(), b"ping");
    proxy.black_hole();
    let hang = Duration::from_millis(200);
    let err = round_trip(&mut old, hang).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
    let mut new = TcpStream::connect(addr).unwrap();
    let err = round_trip(&mut new, hang).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
    assert_eq!(proxy.mode(), Mode::BlackHole);

    // Heal: the garbled connections are closed, a new one forwards.
    proxy.heal();
    assert!(round_trip(&mut old, wait).is_err());
    assert!(round_trip(&mut new, wait).is_err());
    let mut fresh = TcpStream::connect(addr).unwrap();
    assert_eq!(round_trip(&mut fresh, wait).unwrap(), b"ping");

    // Dropped: its connections close and its port refuses.
    let start = Instant::now();
    drop(proxy);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(round_trip(&mut fresh, wait).is_err());
    assert!(TcpStream::connect(addr).is_err());
}
