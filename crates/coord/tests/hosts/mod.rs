//! Test support for real multi-host fleets: simulated machines, each behind its own faulty
//! network link, around one shared store. Shared by the fleet and fault tests.
//!
//! - [`Proxy`]: a hand-written TCP proxy (std threads) on `127.0.0.1:0` in front of the store,
//!   switchable at any time between [`Proxy::heal`] (forward), [`Proxy::cut`] (every
//!   connection closed at once, new ones reset: the peer sees EOF or a reset fast) and
//!   [`Proxy::black_hole`] (connections stay open but every byte is dropped both ways, new ones
//!   are accepted and never answered: the peer hangs until its own timeout).
//! - [`Host`]: a simulated machine, a real PID + UTS (+ mount, for its own `/proc`) namespace
//!   made by `unshare`, with its own host name (also in `COORD_HOST`), its own `HOME`, and a
//!   `COORD_URL` that reaches the store through the host's own [`Proxy`]. Commands run inside
//!   it through `nsenter`; [`Host::kill_all`], [`Host::freeze`] and [`Host::thaw`] act on every
//!   process of the namespace.
//! - The store: `support::RedisServer` (durable, it can be stopped and started again with its
//!   data: an outage), or [`serve_embedded`], a `coord serve` over a private embedded store;
//!   [`Upstream`] says where a host's proxy forwards to and which URL coord is given.
//!
//! Nothing here ever sends a packet to an address other than loopback.
//!
//! Include it with `mod common; mod support; mod hosts;` at the root of a test crate (it uses
//! `crate::common` and `crate::support`). A [`Host`] lives no longer than the thread that
//! started it (its `unshare` has a parent-death signal), so that a test that dies leaves no
//! namespace behind.

// Each test crate uses a part of it.
#![allow(dead_code, unused_imports)]

mod proxy;
mod store;

pub use proxy::{Mode, Proxy, Target};
pub use store::{Upstream, serve_embedded};

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use serde_json::Value;

use crate::common::COORD;

/// How long the harness waits for anything of its own (a server to answer, a namespace to
/// start, every process to stop) before it fails the test.
const PATIENCE: Duration = Duration::from_secs(10);

/// What a command run in a host gave, and how long it took (from spawning `nsenter` to its
/// exit: a few milliseconds more than the command itself).
#[derive(Debug)]
pub struct Ran {
    /// The command's output.
    pub output: Output,
    /// How long it took.
    pub took: Duration,
}

impl Ran {
    /// Its stdout, as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Its stderr, as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    /// Asserts that it exited 0 within `limit` and printed nothing (what a hook must do).
    pub fn assert_silent_within(&self, limit: Duration) {
        assert_eq!(
            self.output.status.code(),
            Some(0),
            "exit status; stderr: {}",
            self.stderr()
        );
        assert!(
            self.output.stdout.is_empty() && self.output.stderr.is_empty(),
            "printed: {:?} / {:?}",
            self.stdout(),
            self.stderr()
        );
        assert!(self.took < limit, "took {:?}, limit {limit:?}", self.took);
    }
}

/// A process seen in a host's namespace (its PID as this test sees it, outside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Its PID outside the namespace.
    pub pid: i32,
    /// Its start time (clock ticks after boot), which tells it from a later process with the
    /// same PID.
    pub start: u64,
    /// Its state letter (`R`, `S`, `T`, `Z`, …).
    pub state: char,
    /// Its parent's PID outside the namespace (0 for an init whose parent is in no namespace
    /// this test sees).
    pub ppid: i32,
    /// Its command line, arguments joined by spaces.
    pub cmd: String,
}

impl Proc {
    /// Reads `/proc/PID` now, if the process exists.
    pub fn read(pid: i32) -> Option<Self> {
        let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`: comm may hold anything but ends at the last `)`.
        let after = &line[line.rfind(')')? + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let state = fields.first()?.chars().next()?;
        let parent = fields.get(1)?.parse().ok()?;
        // Field 22 of stat is the start time; `after` begins at field 3.
        let start = fields.get(22 - 3)?.parse().ok()?;
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                c.split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        Some(Self {
            pid,
            start,
            state,
            ppid: parent,
            cmd,
        })
    }

    /// Whether this very process still exists (and is not a zombie).
    pub fn alive(&self) -> bool {
        Proc::read(self.pid).is_some_and(|p| p.start == self.start && p.state != 'Z')
    }

    /// Whether it is stopped (by a signal or a tracer).
    pub fn stopped(&self) -> bool {
        matches!(self.state, 'T' | 't')
    }
}

/// A long-lived process started in a host by [`Host::spawn`]; killed (SIGKILL) when dropped.
pub struct HostProcess {
    /// The `nsenter` that started it and waits for it (outside the namespace).
    nsenter: Child,
    outer: i32,
    inner: i32,
}

impl HostProcess {
    /// Its PID inside the host, what `coord register --pid` run in the host is given.
    pub fn pid(&self) -> i32 {
        self.inner
    }

    /// Its PID outside the host, as this test sees it.
    pub fn outer_pid(&self) -> i32 {
        self.outer
    }

    /// Whether it still runs (`nsenter` exits with it).
    pub fn alive(&mut self) -> bool {
        self.nsenter.try_wait().unwrap().is_none()
    }

    /// Kills it with SIGKILL and waits for it.
    pub fn kill(&mut self) {
        if self.alive() {
            signal(self.outer, Signal::KILL);
        }
        let _ = self.nsenter.wait();
    }

    /// Waits for it to exit; returns its exit status as `nsenter` reports it (a signal `N`
    /// reads as 128 + N).
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.nsenter.wait().unwrap()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A simulated machine: a PID + UTS + mount namespace (its own `/proc`) whose host name is
/// its name, with its own `HOME` and its own [`Proxy`] to the store. Every process of the
/// namespace is killed when it is dropped.
pub struct Host {
    name: String,
    dir: tempfile::TempDir,
    proxy: Proxy,
    url: String,
    /// Settings every command in it is given besides its own (`COORD_HOST_LOST_AFTER`, say).
    env: Vec<(String, String)>,
    /// `unshare`, the parent of the namespace's init.
    unshare: Child,
    /// The namespace's init (PID 1 inside), as seen outside.
    init: i32,
    /// The namespace, `pid:[INODE]`, as `/proc/PID/ns/pid` links read.
    ns: String,
    /// Held open so the namespace, and so its inode number, is not reused while this lives.
    _ns_handle: File,
    dead: bool,
}

impl Host {
    /// Starts host `name` (a valid host name) whose proxy leads to `upstream`, and waits until
    /// its namespace runs with its host name set.
    pub fn start(name: &str, upstream: &Upstream) -> Self {
        Self::start_with(name, upstream, &[])
    }

    /// [`start`](Self::start), with `env` set for every command run in it.
    pub fn start_with(name: &str, upstream: &Upstream, env: &[(&str, &str)]) -> Self {
        assert!(
            !name.is_empty()
                && name.len() <= 63
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{name:?} is not a host name"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join("home")).unwrap();
        let proxy = Proxy::start(upstream.target.clone());
        let url = upstream.url_via(proxy.addr());
        // The init sets the host name, says so, then reaps whatever is orphaned in the
        // namespace (a shell blocked in `wait` reaps any child) until it is killed.
        let init = r#"hostname "$0" || exit 1; echo ready; exec sh -c 'while :; do sleep 3600 & wait; done'"#;
        let mut unshare = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--"])
            .args([
                "unshare",
                "--pid",
                "--uts",
                "--fork",
                "--mount-proc",
                "--kill-child",
            ])
            .args(["--", "sh", "-c", init, name])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(dir.path().join("init.log")).unwrap())
            .spawn()
            .expect("setpriv and unshare (util-linux)");
        let mut line = String::new();
        BufReader::new(unshare.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the namespace of {name} did not start: {}",
            std::fs::read_to_string(dir.path().join("init.log")).unwrap_or_default()
        );
        let init = only_child(unshare.id() as i32)
            .unwrap_or_else(|| panic!("the init of {name} is not found"));
        let ns = pid_ns(init).expect("the namespace of the init");
        assert_ne!(
            Some(&ns),
            pid_ns(std::process::id() as i32).as_ref(),
            "{name} has a PID namespace of its own"
        );
        let ns_handle = File::open(format!("/proc/{init}/ns/pid")).unwrap();
        // The init may have been replaced since (a PID reused): check it is still ours.
        assert_eq!(pid_ns(init).as_ref(), Some(&ns));
        Self {
            name: name.to_owned(),
            dir,
            proxy,
            url,
            env: env
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            unshare,
            init,
            ns,
            _ns_handle: ns_handle,
            dead: false,
        }
    }

    /// Its name: its host name inside, and `COORD_HOST`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its `HOME`.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Its temp dir (`home/`, `init.log`, `spawned.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its `COORD_URL`: the store through its proxy.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its link to the store.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// The PID of its init (PID 1 inside), outside.
    pub fn init_pid(&self) -> i32 {
        self.init
    }

    /// A command that runs `argv` inside the host (`coord` as `argv[0]` means the binary under
    /// test), with only `PATH`, `HOME`, `COORD_HOST`, `COORD_URL` and the host's own settings
    /// set, and stdin empty.
    pub fn command(&self, argv: &[&str]) -> Command {
        assert!(!self.dead, "{} was killed", self.name);
        let (program, rest) = argv.split_first().expect("a program to run");
        let program = if *program == "coord" { COORD } else { program };
        let mut c = Command::new("nsenter");
        c.arg("--target")
            .arg(self.init.to_string())
            .args(["--pid", "--uts", "--mount", "--"])
            .arg(program)
            .args(rest)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("COORD_HOST", &self.name)
            .env("COORD_URL", &self.url)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    /// Runs `argv` in the host (see [`command`](Self::command)) with `stdin` written to it,
    /// and waits.
    pub fn exec_with(&self, argv: &[&str], stdin: &[u8]) -> Ran {
        let start = Instant::now();
        let mut child = self
            .command(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsenter (util-linux)");
        let _ = child.stdin.take().unwrap().write_all(stdin);
        let output = child.wait_with_output().unwrap();
        Ran {
            output,
            took: start.elapsed(),
        }
    }

    /// Runs `argv` in the host and waits.
    pub fn exec(&self, argv: &[&str]) -> Ran {
        self.exec_with(argv, b"")
    }

    /// Runs `coord ARGS` in the host and waits.
    pub fn run(&self, args: &[&str]) -> Ran {
        self.run_with(args, b"")
    }

    /// Runs `coord ARGS` in the host with `stdin` written to it, and waits.
    pub fn run_with(&self, args: &[&str], stdin: &[u8]) -> Ran {
        let full: Vec<&str> = std::iter::once("coord")
            .chain(args.iter().copied())
            .collect();
        self.exec_with(&full, stdin)
    }

    /// Runs `coord ARGS` in the host, expecting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let ran = self.run(args);
        assert!(
            ran.success(),
            "coord {args:?} on {} failed: {}\n{}",
            self.name,
            ran.output.status,
            ran.stderr()
        );
        ran.stdout()
    }

    /// Runs `coord heartbeat --hook` in the host with the hook event `event` (JSON) on stdin.
    pub fn hook(&self, event: &str) -> Ran {
        self.run_with(&["heartbeat", "--hook"], event.as_bytes())
    }

    /// `coord ps --all --json` run in the host, parsed.
    pub fn ps(&self) -> Value {
        serde_json::from_str(&self.ok(&["ps", "--all", "--json"])).expect("ps --json")
    }

    /// The session `id` as `coord ps --all --json` in the host lists it, if it does.
    pub fn session(&self, id: &str) -> Option<Value> {
        self.ps()["sessions"]
            .as_array()?
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
    }

    /// Starts `argv` in the host, long-lived (`coord` as `argv[0]` means the binary under
    /// test), its stdout and stderr appended to `spawned.log` in [`dir`](Self::dir); waits
    /// until it runs in the namespace.
    pub fn spawn(&self, argv: &[&str]) -> HostProcess {
        let log = || {
            File::options()
                .create(true)
                .append(true)
                .open(self.dir().join("spawned.log"))
                .unwrap()
        };
        let mut nsenter = self
            .command(argv)
            .stdout(log())
            .stderr(log())
            .spawn()
            .expect("nsenter (util-linux)");
        let deadline = Instant::now() + PATIENCE;
        let outer = loop {
            // `nsenter` forks the process into the namespace and waits for it.
            if let Some(pid) = only_child(nsenter.id() as i32)
                && pid_ns(pid).as_ref() == Some(&self.ns)
            {
                break pid;
            }
            if let Some(status) = nsenter.try_wait().unwrap() {
                panic!("{argv:?} on {} exited at once: {status}", self.name);
            }
            assert!(
                Instant::now() < deadline,
                "{argv:?} did not start on {}",
                self.name
            );
            thread::sleep(Duration::from_millis(1));
        };
        let inner = inner_pid(outer).expect("the PID inside the namespace");
        HostProcess {
            nsenter,
            outer,
            inner,
        }
    }

    /// Every process in the namespace now (its init included), unless it was killed.
    pub fn processes(&self) -> Vec<Proc> {
        if self.dead {
            return Vec::new();
        }
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut procs: Vec<Proc> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| pid_ns(*pid).as_ref() == Some(&self.ns))
            .filter_map(Proc::read)
            .collect();
        procs.sort_by_key(|p| p.pid);
        procs
    }

    /// Kills every process of the host at once: SIGKILL to its init ends the whole PID
    /// namespace. Waits until the init is gone, so until every process of it is (the kernel
    /// reaps the namespace before its init). Later commands in the host panic.
    pub fn kill_all(&mut self) {
        if self.dead {
            return;
        }
        // A frozen host's `nsenter`s are stopped too, and the namespace ends only once they
        // have reaped their children.
        self.resume_outside_parents();
        signal(self.init, Signal::KILL);
        let _ = self.unshare.wait();
        self.dead = true;
    }

    /// Stops every process of the host (SIGSTOP, state `T`), and waits until all are stopped;
    /// a process forked meanwhile is found by the next scan.
    pub fn freeze(&self) {
        self.each_until("stopped", Signal::STOP, |p| p.stopped() || p.state == 'Z');
    }

    /// Resumes every process of the host (SIGCONT), and waits until none is stopped. The
    /// `nsenter`s outside that wait for a process of it stopped themselves when it stopped
    /// (as a shell's job would): they are resumed too.
    pub fn thaw(&self) {
        self.resume_outside_parents();
        self.each_until("resumed", Signal::CONT, |p| !p.stopped());
    }

    /// Sends SIGCONT to every parent outside the namespace of a process in it: the `nsenter`s
    /// that must reap those processes for the namespace to end.
    fn resume_outside_parents(&self) {
        for p in self.processes() {
            if p.ppid > 0 && pid_ns(p.ppid).as_ref() != Some(&self.ns) {
                signal(p.ppid, Signal::CONT);
            }
        }
    }

    /// Sends `sig` to every process of the namespace that is not yet `done`, until a scan
    /// finds all of them done.
    fn each_until(&self, what: &str, sig: Signal, done: impl Fn(&Proc) -> bool) {
        assert!(!self.dead, "{} was killed", self.name);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let pending: Vec<Proc> = self.processes().into_iter().filter(|p| !done(p)).collect();
            if pending.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not every process of {} {what}: {pending:?}",
                self.name
            );
            for p in &pending {
                signal(p.pid, sig);
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Sends `sig` to `pid`, if it exists.
fn signal(pid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// The PID namespace of `pid` (`pid:[INODE]`).
fn pid_ns(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// The one child of `pid`, if it has exactly one.
fn only_child(pid: i32) -> Option<i32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    let mut pids = children.split_whitespace().filter_map(|p| p.parse().ok());
    let first = pids.next()?;
    pids.next().is_none().then_some(first)
}

/// The PID of `pid` inside its own (innermost) namespace.
fn inner_pid(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}
