//! A private coord world per test: its own store in a temp dir, its own environment, and
//! helpers to run the real binary against it.

#![allow(dead_code)]

pub mod bus;
pub mod serve;
pub mod tmux;
pub mod ws;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The coord binary under test.
pub const COORD: &str = env!("CARGO_BIN_EXE_coord");

/// A temp dir with a store, and commands that use it.
pub struct World {
    pub dir: tempfile::TempDir,
    store: Option<String>,
}

impl World {
    /// A world on a private embedded store.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            store: None,
        }
    }

    /// A world on the store `url` (a private Redis, say).
    pub fn on(url: String) -> Self {
        Self {
            store: Some(url),
            ..Self::new()
        }
    }

    /// The store file.
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("store/coord.db")
    }

    /// `COORD_URL` for the store.
    pub fn url(&self) -> String {
        self.store
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.db().display()))
    }

    /// A `coord` command set up for this world (no inherited coord settings, no colour, and
    /// a HOME inside the temp dir).
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(COORD);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("COORD_URL", self.url())
            .stdin(Stdio::null());
        c
    }

    /// Runs coord with `args`, expecting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeed(self.cmd().args(args))
    }

    /// Runs coord with `args`; returns the whole output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs `coord heartbeat --hook` with `stdin` as the hook event.
    pub fn hook(&self, extra: &[&str], stdin: &[u8]) -> Output {
        feed(self.cmd().args(["heartbeat", "--hook"]).args(extra), stdin)
    }

    /// Sends Claude Code's hook `event` for session `id` from host `laptop`, with `extra`
    /// (`,"name":value…`) after the fields every event carries; expects it taken.
    pub fn claude_hook(&self, id: &str, event: &str, extra: &str) {
        let body = format!(
            r#"{{"session_id":"{id}","cwd":"/tmp","transcript_path":"/tmp/{id}.jsonl","hook_event_name":"{event}"{extra}}}"#
        );
        let out = self.hook_on("laptop", event, body.as_bytes());
        assert!(out.status.success(), "{event}: {out:?}");
    }

    /// Runs `coord hook <event>` as on host `host` (`COORD_HOST`), with `stdin` as the event.
    pub fn hook_on(&self, host: &str, event: &str, stdin: &[u8]) -> Output {
        feed(
            self.cmd().env("COORD_HOST", host).args(["hook", event]),
            stdin,
        )
    }

    /// Runs coord as on host `host` (`COORD_HOST`) with `args`, expecting success; returns
    /// stdout.
    pub fn on_host(&self, host: &str, args: &[&str]) -> String {
        succeed(self.cmd().env("COORD_HOST", host).args(args))
    }

    /// Starts a real process and registers it as session `id` (with `extra` arguments); the
    /// process lives until the returned guard is dropped or killed.
    pub fn registered(&self, id: &str, extra: &[&str]) -> Sleeper {
        let agent = Sleeper::start();
        let mut args = vec!["register", "--id", id, "--pid"];
        let pid = agent.pid();
        args.push(&pid);
        args.extend_from_slice(extra);
        self.ok(&args);
        agent
    }

    /// `coord ps --all --json`, parsed.
    pub fn ps(&self) -> Value {
        serde_json::from_str(&self.ok(&["ps", "--all", "--json"])).unwrap()
    }

    /// The session `id` in `coord ps --all --json`, if listed.
    pub fn session(&self, id: &str) -> Option<Value> {
        self.ps()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
    }

    /// The state of session `id`.
    pub fn state(&self, id: &str) -> String {
        let s = self
            .session(id)
            .unwrap_or_else(|| panic!("session {id} is not listed"));
        s["state"].as_str().unwrap().to_owned()
    }
}

/// Runs `cmd` with `stdin` written to it (as much as it reads); returns the whole output.
pub fn feed(cmd: &mut Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// Runs `cmd`, expecting success; returns its stdout.
pub fn succeed(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `processes` shells at once, shell `i` running `coord heartbeat --id <id(i)>` `beats`
/// times against the store `url`, and waits for all: every heartbeat must succeed.
pub fn hammer(url: &str, processes: usize, beats: usize, id: impl Fn(usize) -> String) {
    let children: Vec<_> = (0..processes)
        .map(|i| {
            let script = format!(
                "i=0; while [ $i -lt {beats} ]; do {COORD} heartbeat --id {} || exit 1; i=$((i+1)); done",
                id(i)
            );
            Command::new("sh")
                .args(["-c", &script])
                .env("COORD_URL", url)
                .stdin(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a heartbeat failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A real process that lives until killed (a `sleep`), killed when dropped.
pub struct Sleeper(pub Child);

impl Sleeper {
    pub fn start() -> Self {
        Self(Command::new("sleep").arg("600").spawn().unwrap())
    }

    pub fn pid(&self) -> String {
        self.0.id().to_string()
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small deterministic pseudo-random sequence (xorshift): a failing run can be repeated from
/// its seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How hard the reliability tests push: `COORD_RELIABILITY_SCALE=full` (what
/// `bench/reliability` sets) for the long runs, anything else for the CI-sized ones.
pub fn scaled(ci: usize, full: usize) -> usize {
    if std::env::var("COORD_RELIABILITY_SCALE").as_deref() == Ok("full") {
        full
    } else {
        ci
    }
}

/// Prints one line of figures for `bench/reliability` to collect: `RELIABILITY <family>
/// <key>=<value> …`.
pub fn publish(family: &str, figures: &[(&str, String)]) {
    let fields: Vec<String> = figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("RELIABILITY {family} {}", fields.join(" "));
}

/// The `p`th percentile (nearest rank) of `sorted`, which must not be empty.
pub fn percentile(sorted: &[f64], p: usize) -> f64 {
    let rank = (p * sorted.len()).div_ceil(100);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Kills `child`'s whole process group (it must have been started in a group of its own) with
/// SIGKILL, and reaps it.
pub fn kill_group(child: &mut Child) {
    let pgid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
    child.wait().unwrap();
}

/// A seed from the clock, printed so that a failing run can be repeated.
pub fn seed() -> u64 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    seed
}

/// The wall clock in epoch milliseconds, as the store's events are timed.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// When the store of `world` logged the exit of session `id`, if it has.
pub fn exit_logged_at(world: &World, id: &str) -> Option<i64> {
    let url = coord_store::StoreUrl::parse(Some(&world.url()), |_| None).unwrap();
    let store = coord_store::open(&url, &coord_store::Config::new("default")).unwrap();
    store
        .session_events(id, 100)
        .unwrap()
        .into_iter()
        .find(|e| matches!(e.kind, coord_core::EventKind::Exited { .. }))
        .map(|e| e.at.as_millis())
}

/// The strings of a JSON list.
pub fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}
