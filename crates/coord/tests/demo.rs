//! `coord demo`, the README's first command, shows every state on real processes.

mod common;

use std::process::{Command, Stdio};

#[test]
fn the_demo_shows_real_processes_working_waiting_hanging_dying_and_ending() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::COORD)
        .args(["demo", "--duration", "14s"])
        .env("HOME", dir.path())
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row_state = |id: &str, state: &str| {
        text.lines()
            .any(|l| l.starts_with(&format!("{id} ")) && l.contains(&format!(" {state} ")))
    };
    assert!(
        row_state("builder", "in-tool") && row_state("builder", "active"),
        "{text}"
    );
    assert!(row_state("reviewer", "idle"), "{text}");
    assert!(row_state("tester", "stale"), "{text}");
    assert!(text.contains("no progress for"), "{text}");
    assert!(row_state("crasher", "dead"), "{text}");
    assert!(row_state("finisher", "ended"), "{text}");
    assert!(
        text.contains("crasher  evicted: dead: process gone"),
        "{text}"
    );
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 0, "the demo removes its store");
}
