//! `coord heartbeat --hook`: whatever happens, exit 0, print nothing, never block the agent,
//! and write nothing from garbage.

mod common;

use std::time::{Duration, Instant};

use common::World;

fn assert_silent_success(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_hook_event_registers_its_session_and_later_events_renew_it() {
    let w = World::new();
    let event = br#"{"session_id":"0b1c-claude","cwd":"/home/dev/proj","transcript_path":"/home/dev/t.jsonl","hook_event_name":"PostToolUse"}"#;
    assert_silent_success(&w.hook(&[], event));
    assert_silent_success(&w.hook(&[], event));
    let s = w.session("0b1c-claude").expect("registered from the event");
    assert_eq!(s["beats"], 2);
    assert_eq!(s["cwd"], "/home/dev/proj");
    assert_eq!(s["log_path"], "/home/dev/t.jsonl");
    assert!(s["signals"]["hook"].is_object());
    assert_eq!(s["state"], "active");
}

#[test]
fn a_wiped_store_heals_on_the_next_hook() {
    let w = World::new();
    let event = br#"{"session_id":"s1"}"#;
    assert_silent_success(&w.hook(&[], event));
    std::fs::remove_file(w.db()).unwrap();
    let _ = std::fs::remove_file(w.db().with_extension("db-wal"));
    let _ = std::fs::remove_file(w.db().with_extension("db-shm"));
    assert_silent_success(&w.hook(&[], event));
    assert_eq!(w.session("s1").unwrap()["beats"], 1);
}

#[test]
fn garbage_on_stdin_exits_0_silently_and_writes_nothing() {
    let w = World::new();
    // Prime the store so that "writes nothing" is checked on a real store.
    assert_silent_success(&w.hook(&[], br#"{"session_id":"real"}"#));
    let before = w.ok(&["events", "--json"]);
    let huge = vec![b'{'; 5 << 20];
    let cases: Vec<&[u8]> = vec![
        b"not json at all",
        b"[1, 2, 3]",
        b"{\"session_id\": 42}",
        b"\xff\xfe\xfd invalid utf-8",
        b"{\"session_id\": \"cut",
        &huge,
    ];
    for garbage in cases {
        assert_silent_success(&w.hook(&[], garbage));
    }
    assert_eq!(
        w.ok(&["events", "--json"]),
        before,
        "garbage wrote something"
    );
    assert_eq!(w.ps()["sessions"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_arguments_in_a_hook_never_become_a_blocking_exit_code() {
    let w = World::new();
    for args in [
        &["--no-such-flag"][..],
        &["--progress", "{bad"],
        &["--phase", "dancing"],
    ] {
        assert_silent_success(&w.hook(args, br#"{"session_id":"s"}"#));
    }
}

#[test]
fn a_corrupt_store_costs_the_hook_nothing_and_is_left_untouched() {
    let w = World::new();
    std::fs::create_dir_all(w.db().parent().unwrap()).unwrap();
    let garbage = b"not a database\n".repeat(1000);
    std::fs::write(w.db(), &garbage).unwrap();
    assert_silent_success(&w.hook(&[], br#"{"session_id":"s"}"#));
    assert_eq!(std::fs::read(w.db()).unwrap(), garbage);
}

#[test]
fn an_unwritable_store_location_costs_the_hook_nothing() {
    let w = World::new();
    let blocker = w.dir.path().join("file-not-dir");
    std::fs::write(&blocker, "x").unwrap();
    let out = {
        use std::io::Write;
        let mut child = w
            .cmd()
            .env(
                "COORD_URL",
                format!("sqlite://{}/coord.db", blocker.display()),
            )
            .args(["heartbeat", "--hook"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(br#"{"session_id":"s"}"#)
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert_silent_success(&out);
}

#[test]
fn a_store_locked_by_another_writer_costs_the_hook_a_bounded_wait() {
    let w = World::new();
    assert_silent_success(&w.hook(&[], br#"{"session_id":"s"}"#));
    let conn = rusqlite::Connection::open(w.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let start = Instant::now();
    assert_silent_success(&w.hook(&[], br#"{"session_id":"s"}"#));
    let waited = start.elapsed();
    conn.execute_batch("ROLLBACK").unwrap();
    assert!(
        waited < Duration::from_secs(3),
        "the hook waited {waited:?}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "it did wait for the lock: {waited:?}"
    );
}

#[test]
fn a_stdin_left_open_without_data_costs_a_bounded_wait() {
    let w = World::new();
    let mut child = w
        .cmd()
        .args(["heartbeat", "--hook", "--id", "quiet-pipe"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _keep_open = child.stdin.take();
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_silent_success(&out);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(w.session("quiet-pipe").unwrap()["beats"], 1);
}
