//! Writers killed with SIGKILL in the middle of their writes leave a store that opens clean
//! and holds every acknowledged write.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{COORD, Rng, Sleeper, World};

const ROUNDS: usize = 50;

#[test]
fn sigkill_in_the_middle_of_writes_loses_no_acknowledged_write() {
    let w = World::new();
    let agent = Sleeper::start();
    w.ok(&["register", "--id", "s", "--pid", &agent.pid()]);
    let acked = w.dir.path().join("acked");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    // Each round: a shell heartbeats in a loop and appends a line for every heartbeat coord
    // acknowledged (exit 0); the whole process group is killed with SIGKILL at a random moment.
    let script = format!(
        "while :; do {COORD} heartbeat --id s && echo >> {}; done",
        acked.display()
    );
    for _ in 0..ROUNDS {
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .env("COORD_URL", w.url())
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(2_000 + rng.next() % 30_000));
        let pgid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
        child.wait().unwrap();
    }
    // Give killed grandchildren a moment to be reaped by init.
    std::thread::sleep(Duration::from_millis(100));

    let conn = rusqlite::Connection::open(w.db()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let acknowledged = std::fs::read_to_string(&acked).map_or(0, |s| s.lines().count()) as u64;
    let beats = w.session("s").unwrap()["beats"].as_u64().unwrap();
    assert!(acknowledged > 0, "the writers never got going");
    // A writer killed after its commit but before its acknowledgement was written adds one
    // beat that no line records: at most one per round.
    assert!(
        beats >= acknowledged && beats <= acknowledged + ROUNDS as u64,
        "beats {beats}, acknowledged {acknowledged}"
    );
    // And the store still takes writes.
    w.ok(&["heartbeat", "--id", "s"]);
}

use std::os::unix::process::CommandExt;
