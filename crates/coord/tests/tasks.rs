//! The work queue through the real binary, on both backends: claims with fencing tokens, work
//! taken back from the dead and handed on, and a zombie that can never finish it.

mod common;
#[path = "../../coord-store/tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};

use common::{COORD, World};
use serde_json::Value;
use support::RedisServer;

/// Runs `check` on a world on the embedded store, then on one on a private Redis.
fn on_both(check: impl Fn(&World)) {
    check(&World::new());
    let server = RedisServer::start();
    check(&World::on(server.url().to_string()));
}

fn claim(w: &World, session: &str, extra: &[&str]) -> (String, u64) {
    let mut args = vec!["task", "claim", "--session", session];
    args.extend_from_slice(extra);
    let out = w.ok(&args);
    let mut words = out.split_whitespace();
    let task = words.next().unwrap().to_owned();
    (task, words.next().unwrap().parse().unwrap())
}

fn task(w: &World, id: &str) -> Value {
    serde_json::from_str(&w.ok(&["task", "show", id, "--json"])).unwrap()
}

#[test]
fn a_task_is_claimed_worked_on_and_completed_under_its_token() {
    on_both(|w| {
        let _agent = w.registered("worker", &[]);
        let id = w.ok(&["task", "add", "--id", "t1", "migrate", "the", "schema"]);
        assert_eq!(id.trim(), "t1");
        let (task_id, token) = claim(w, "worker", &[]);
        assert_eq!(task_id, "t1");
        assert_eq!(
            w.session("worker").unwrap()["claims"],
            serde_json::json!(["t1"])
        );
        let table = w.ok(&["ps"]);
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("worker ") && l.contains(" t1 ")),
            "{table}"
        );
        w.ok(&[
            "task",
            "progress",
            "t1",
            "--token",
            &token.to_string(),
            "--details",
            r#"{"step":2}"#,
        ]);
        w.ok(&["task", "complete", "t1", "--token", &token.to_string()]);
        let t = task(w, "t1");
        assert_eq!(
            (t["state"].as_str(), t["session"].as_str()),
            (Some("done"), Some("worker"))
        );
        assert_eq!(t["title"], "migrate the schema");
        assert_eq!(t["progress"]["step"], 2);
        let list = w.ok(&["task", "list"]);
        assert!(list.lines().nth(1).unwrap().starts_with("t1 "), "{list}");
        let log = w.ok(&["events"]);
        assert!(
            log.contains("claimed task t1") && log.contains("task t1 done"),
            "{log}"
        );
        let out = w.run(&["task", "claim", "--session", "worker"]);
        assert_eq!(out.status.code(), Some(1), "nothing left to claim");
    });
}

#[test]
fn a_stale_token_is_refused_and_changes_nothing() {
    on_both(|w| {
        let _agent = w.registered("worker", &[]);
        w.ok(&["task", "add", "--id", "t1", "work"]);
        let (_, token) = claim(w, "worker", &[]);
        let before = task(w, "t1");
        for op in [
            vec!["task", "complete", "t1", "--token"],
            vec!["task", "release", "t1", "--token"],
            vec!["task", "fail", "t1", "--reason", "x", "--token"],
        ] {
            let mut args = op.clone();
            let stale = (token + 100).to_string();
            args.push(&stale);
            let out = w.run(&args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("stale fencing token {stale}")),
                "{err}"
            );
        }
        assert_eq!(task(w, "t1"), before);
    });
}

#[test]
fn the_work_of_a_dead_session_goes_to_a_live_one_with_its_progress() {
    on_both(|w| {
        let mut alice = w.registered("alice", &[]);
        let _bob = w.registered("bob", &[]);
        w.ok(&["task", "add", "--id", "t1", "work"]);
        let (_, first) = claim(w, "alice", &["--task", "t1"]);
        w.ok(&[
            "task",
            "progress",
            "t1",
            "--token",
            &first.to_string(),
            "--details",
            r#"{"done":"half"}"#,
        ]);
        alice.kill();
        let sweep = w.ok(&["sweep", "--grace", "0s", "--lock-delay", "0s", "--assign"]);
        assert!(sweep.contains("evicted   alice"), "{sweep}");
        assert!(sweep.contains("released  t1: alice was evicted"), "{sweep}");
        assert!(sweep.contains("assigned  t1 -> bob"), "{sweep}");
        let t = task(w, "t1");
        assert_eq!(
            (t["state"].as_str(), t["session"].as_str()),
            (Some("claimed"), Some("bob"))
        );
        assert_eq!(t["attempts"], 1);
        assert_eq!(
            t["progress"]["done"], "half",
            "bob resumes where alice stopped"
        );
        let second = t["token"].as_u64().unwrap();
        assert!(second > first);
        let zombie = w.run(&["task", "complete", "t1", "--token", &first.to_string()]);
        assert_eq!(zombie.status.code(), Some(1), "the zombie is refused");
        w.ok(&["task", "complete", "t1", "--token", &second.to_string()]);
    });
}

#[test]
fn released_work_waits_out_the_lock_delay_and_lost_holders_quarantine_it() {
    on_both(|w| {
        let mut a = w.registered("a", &[]);
        let _b = w.registered("b", &[]);
        w.ok(&["task", "add", "--id", "t1", "--max-attempts", "2", "work"]);
        claim(w, "a", &[]);
        a.kill();
        w.ok(&["sweep", "--grace", "0s", "--lock-delay", "1h"]);
        let out = w.run(&["task", "claim", "--session", "b", "--task", "t1"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be claimed before"));
        assert_eq!(
            w.run(&["task", "claim", "--session", "b"]).status.code(),
            Some(1)
        );
        let t = task(w, "t1");
        assert_eq!(
            (t["state"].as_str(), t["attempts"].as_u64()),
            (Some("pending"), Some(1))
        );
    });
    on_both(|w| {
        let mut a = w.registered("a", &[]);
        w.ok(&["task", "add", "--id", "t1", "--max-attempts", "1", "work"]);
        claim(w, "a", &[]);
        a.kill();
        w.ok(&["sweep", "--grace", "0s"]);
        let t = task(w, "t1");
        assert_eq!(t["state"], "failed");
        assert!(
            t["reason"]
                .as_str()
                .unwrap()
                .starts_with("1 holders lost, the last a"),
            "{t:#}"
        );
        assert!(t["history"].as_array().unwrap().len() >= 3);
    });
}

#[test]
fn assignment_respects_labels_and_picks_the_least_loaded() {
    on_both(|w| {
        let _busy = w.registered("infra-busy", &["--label", "team=infra"]);
        let _free = w.registered("infra-free", &["--label", "team=infra"]);
        let _web = w.registered("web", &["--label", "team=web"]);
        w.ok(&[
            "task",
            "add",
            "--id",
            "t0",
            "--label",
            "team=infra",
            "first",
        ]);
        claim(w, "infra-busy", &["--task", "t0"]);
        w.ok(&[
            "task",
            "add",
            "--id",
            "t1",
            "--label",
            "team=infra",
            "second",
        ]);
        let out: Value = serde_json::from_str(&w.ok(&["sweep", "--assign", "--json"])).unwrap();
        assert_eq!(out["assigned"]["t1"], "infra-free", "{out:#}");
    });
}

/// A holder is evicted, then it (a zombie) and the new holder try to complete at the same
/// moment, as two real processes: exactly one completion is accepted, every round.
fn race(w: &World, rounds: usize) {
    let _bob = w.registered("bob", &[]);
    for round in 0..rounds {
        let alice = format!("alice-{round}");
        let mut agent = w.registered(&alice, &[]);
        let t = format!("t{round}");
        w.ok(&["task", "add", "--id", &t, "work"]);
        let (_, old) = claim(w, &alice, &["--task", &t]);
        agent.kill();
        w.ok(&["sweep", "--grace", "0s", "--lock-delay", "0s"]);
        let (_, new) = claim(w, "bob", &["--task", &t]);
        let complete = |token: u64| {
            Command::new(COORD)
                .args(["task", "complete", &t, "--token", &token.to_string()])
                .env("COORD_URL", w.url())
                .env("HOME", w.dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let (mut zombie, mut holder) = (complete(old), complete(new));
        let zombie_ok = zombie.wait().unwrap().success();
        let holder_ok = holder.wait().unwrap().success();
        assert!(
            !zombie_ok && holder_ok,
            "round {round}: zombie {zombie_ok}, holder {holder_ok}"
        );
        assert_eq!(task(w, &t)["session"], "bob");
    }
}

#[test]
fn a_zombie_and_the_new_holder_racing_to_complete_exactly_one_wins_on_sqlite() {
    race(&World::new(), 200);
}

#[test]
fn a_zombie_and_the_new_holder_racing_to_complete_exactly_one_wins_on_redis() {
    let server = RedisServer::start();
    race(&World::on(server.url().to_string()), 200);
}

#[test]
fn one_session_leads_and_the_lease_passes_on_when_it_dies() {
    on_both(|w| {
        let mut a = w.registered("a", &[]);
        let _b = w.registered("b", &[]);
        assert_eq!(w.ok(&["heartbeat", "--id", "a", "--lead"]).trim(), "leader");
        assert_eq!(
            w.ok(&["heartbeat", "--id", "a", "--lead"]).trim(),
            "leader",
            "renewed"
        );
        assert_eq!(
            w.ok(&["heartbeat", "--id", "b", "--lead"]).trim(),
            "follower (leader: a)"
        );
        a.kill();
        let sweep = w.ok(&["sweep", "--grace", "0s", "--lock-delay", "0s"]);
        assert!(sweep.contains("leader    b"), "{sweep}");
        assert_eq!(w.ok(&["heartbeat", "--id", "b", "--lead"]).trim(), "leader");
        let log = w.ok(&["events"]);
        let terms: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("leads the fleet"))
            .collect();
        assert_eq!(terms.len(), 2, "{log}");
        assert!(
            terms[0].contains(" a ") && terms[1].contains(" b "),
            "{log}"
        );
        assert!(
            !w.ok(&["task", "list"]).contains("coord:leader"),
            "the lease is no task of yours"
        );
    });
}

#[test]
fn a_holder_whose_host_fell_silent_keeps_its_work_until_the_host_is_heard_again() {
    on_both(|w| {
        let on = |host: &str, args: &[&str]| {
            let out = w.cmd().env("COORD_HOST", host).args(args).output().unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let laptop = common::Sleeper::start();
        on(
            "laptop",
            &[
                "register",
                "--id",
                "lap",
                "--pid",
                &laptop.pid(),
                "--ttl",
                "1s",
            ],
        );
        on("server", &["task", "add", "--id", "t1", "work"]);
        on(
            "server",
            &["task", "claim", "--session", "lap", "--lease", "1s"],
        );
        std::thread::sleep(std::time::Duration::from_millis(1500));
        // The laptop sleeps: its session and its host are silent alike. Unknown, not dead:
        // nothing is evicted and its work waits, though its lease lapsed.
        let sweep = on("server", &["sweep", "--grace", "0s", "--lock-delay", "0s"]);
        assert!(
            !sweep.contains("evicted") && !sweep.contains("released"),
            "{sweep}"
        );
        assert_eq!(task(w, "t1")["state"], "claimed");
        // Something else on the laptop is heard again, but not `lap`: now its lapsed claim goes
        // back (the laptop's own command already takes it back in passing). `lap` is not dead
        // yet: its host's silence may have been a freeze, so the laptop must be heard for a
        // ttl beyond that pause first.
        on(
            "laptop",
            &["register", "--id", "lap-2", "--pid", &laptop.pid()],
        );
        let sweep = on("server", &["sweep", "--grace", "0s", "--lock-delay", "0s"]);
        assert!(!sweep.contains("evicted"), "{sweep}");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        on("laptop", &["heartbeat", "--id", "lap-2"]);
        let sweep = on("server", &["sweep", "--grace", "0s", "--lock-delay", "0s"]);
        assert!(sweep.contains("evicted   lap:"), "{sweep}");
        let t = task(w, "t1");
        assert_eq!(
            (t["state"].as_str(), t["attempts"].as_u64()),
            (Some("pending"), Some(1))
        );
    });
}

#[test]
fn progress_sent_with_a_heartbeat_is_kept_on_the_tasks_the_session_holds() {
    on_both(|w| {
        let _agent = w.registered("a", &[]);
        w.ok(&["task", "add", "--id", "t1", "work"]);
        claim(w, "a", &[]);
        w.ok(&[
            "heartbeat",
            "--id",
            "a",
            "--progress",
            r#"{"file":"src/lib.rs"}"#,
        ]);
        assert_eq!(task(w, "t1")["progress"]["file"], "src/lib.rs");
    });
}

#[test]
fn finished_tasks_are_kept_for_keep_then_retired_and_an_open_one_never_is() {
    on_both(|w| {
        let _agent = w.registered("a", &[]);
        for id in ["done", "failed", "claimed", "waiting"] {
            w.ok(&["task", "add", "--id", id, "work"]);
        }
        let finish = |verb: &str, extra: &[&str]| {
            let (id, token) = claim(w, "a", &[]);
            let mut args = vec!["task", verb, id.as_str(), "--token"];
            let token = token.to_string();
            args.push(&token);
            args.extend_from_slice(extra);
            w.ok(&args);
        };
        finish("complete", &[]);
        finish("fail", &["--reason", "gave up"]);
        claim(w, "a", &[]);
        // Kept for a week by default: a sweep removes nothing.
        let sweep = w.ok(&["sweep"]);
        assert!(!sweep.contains("retired"), "{sweep}");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let sweep = w.ok(&["sweep", "--keep", "10ms"]);
        assert!(sweep.contains("retired   2 finished tasks"), "{sweep}");
        let listed = |args: &[&str]| -> Vec<String> {
            w.ok(args)
                .lines()
                .skip(1)
                .map(|l| l.split_whitespace().next().unwrap().to_owned())
                .collect()
        };
        assert_eq!(listed(&["task", "list", "--all"]), ["claimed", "waiting"]);
        assert!(w.run(&["task", "show", "done"]).status.code() != Some(0));
        // The environment sets the namespace's own: a finished task kept a day stays.
        let (id, token) = claim(w, "a", &[]);
        w.ok(&["task", "complete", &id, "--token", &token.to_string()]);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let sweep_keeping = |keep: &str| -> Value {
            let out = w
                .cmd()
                .env("COORD_TASK_KEEP", keep)
                .args(["sweep", "--json"])
                .output()
                .unwrap();
            serde_json::from_slice(&out.stdout).unwrap()
        };
        let doc = sweep_keeping("1d");
        assert_eq!(doc["retired"], 0, "{doc}");
        let doc = sweep_keeping("10ms");
        assert_eq!(doc["retired"], 1, "{doc}");
        assert_eq!(listed(&["task", "list", "--all"]), ["claimed"]);
    });
}

#[test]
fn the_list_shows_the_open_tasks_and_the_last_finished_and_all_shows_every_one() {
    on_both(|w| {
        let _agent = w.registered("a", &[]);
        let finished = 22;
        for i in 0..finished {
            let id = format!("f{i:02}");
            w.ok(&["task", "add", "--id", &id, "work"]);
            let (_, token) = claim(w, "a", &[]);
            w.ok(&["task", "complete", &id, "--token", &token.to_string()]);
        }
        w.ok(&["task", "add", "--id", "open", "work"]);
        let out = w.cmd().args(["task", "list"]).output().unwrap();
        let table = String::from_utf8(out.stdout.clone()).unwrap();
        let ids: Vec<&str> = table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(ids.len(), 21, "{table}");
        assert!(!ids.contains(&"f00") && !ids.contains(&"f01"), "{table}");
        assert_eq!((ids[0], ids[20]), ("f02", "open"), "oldest first");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--all lists every one kept"),
            "{out:?}"
        );
        let all = w.ok(&["task", "list", "--all"]);
        assert_eq!(all.lines().count(), 1 + finished + 1, "{all}");
    });
}
