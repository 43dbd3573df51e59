//! A private `redis-server` per test, so tests never touch the machine's own server (6379) nor
//! each other's data.
//!
//! [`RedisServer::start`] runs `redis-server` on a unix socket in a temporary directory, with
//! TCP off and nothing saved, waits until it answers `PING`, and kills it when dropped. A
//! missing `redis-server` fails the test (install the `redis-server` package): a Redis test
//! that skips would pass without testing anything.
//!
//! Sets of such servers on loopback ports: [`SentinelSet`] (a master, its replicas and their
//! sentinels, in `sentinel.rs`) and [`ClusterSet`] (a Redis Cluster, in `cluster.rs`).
//!
//! For TLS, [`TlsCerts`] makes a test authority and a server certificate it signed, and
//! [`run_in_child`] runs a test in a new process of its test binary, which can be told to trust
//! that authority (`SSL_CERT_FILE`).

// Shared by several test crates, each of which uses a part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use coord_store::StoreUrl;
use coord_store::url::RedisUrl;

mod cluster;
mod sentinel;

// Not every test crate that includes this module uses every set.
#[allow(unused_imports)]
pub use cluster::{ClusterSet, Move};
#[allow(unused_imports)]
pub use sentinel::SentinelSet;

/// How long a new server may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` of this test alone, which can go down and come back (an outage), freeze
/// (a server that takes connections and never answers) and forget its data.
pub struct RedisServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server listening on a unix socket only, keeping nothing on disk.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server that writes every change to an append-only file before it answers, so
    /// that it comes back from [`stop`](Self::stop) with all it acknowledged.
    pub fn start_durable() -> Self {
        Self::start_with(&["--appendonly", "yes", "--appendfsync", "always"])
    }

    /// Starts a server on a unix socket, with `extra` arguments (a TLS port, say).
    pub fn start_with(extra: &[&str]) -> Self {
        let mut server = Self {
            child: None,
            dir: tempfile::tempdir().expect("a temporary directory"),
            extra: extra.iter().map(|&a| a.to_owned()).collect(),
        };
        server.start_again();
        server
    }

    /// Starts the server again after [`stop`](Self::stop), on the same socket, with the same
    /// arguments and what it kept on disk; waits until it answers. Does nothing if it runs.
    pub fn start_again(&mut self) {
        if self.is_up() {
            return;
        }
        let socket = self.socket();
        let _ = std::fs::remove_file(&socket);
        let child = Command::new("redis-server")
            .arg("--port")
            .arg("0")
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.log())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): install it (apt-get install redis-server)")
            });
        self.child = Some(child);
        self.wait_for_pong();
    }

    /// Starts the server again as [`start_again`](Self::start_again) does, with `extra` in
    /// place of the arguments it had, which it keeps for later restarts (a set's old master
    /// comes back as a replica of the new one).
    fn start_again_with(&mut self, extra: Vec<String>) {
        self.extra = extra;
        self.start_again();
    }

    /// Whether it was started and not stopped since; unlike [`is_up`](Self::is_up), it takes
    /// no `&mut` (and does not notice a server that died on its own).
    fn is_started(&self) -> bool {
        self.child.is_some()
    }

    fn wait_for_pong(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            let child = self.child.as_mut().expect("a started server");
            if let Some(status) = child.try_wait().expect("the server's status") {
                panic!(
                    "redis-server exited at start: {status}; {}",
                    self.log_tail()
                );
            }
            if ping(&self.socket()) {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        panic!(
            "redis-server did not answer PING within {START_TIMEOUT:?}; {}",
            self.log_tail()
        );
    }

    /// The server's log file.
    fn log(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// The last lines of the server's log, to say why it did not start.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n");
        format!("its log ends:\n{tail}")
    }

    /// Stops the server at once (SIGKILL): clients see their connections reset and new ones
    /// refused. A durable server keeps what it acknowledged for
    /// [`start_again`](Self::start_again).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it runs.
    pub fn is_up(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Stops the process (SIGSTOP): the kernel still takes connections, nothing answers.
    pub fn freeze(&self) {
        self.signal(rustix::process::Signal::STOP);
    }

    /// Resumes a frozen server (SIGCONT).
    pub fn thaw(&self) {
        self.signal(rustix::process::Signal::CONT);
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let child = self.child.as_ref().expect("a running server");
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a PID");
        let _ = rustix::process::kill_process(pid, signal);
    }

    /// Forgets everything, as a server restarted without its data would.
    pub fn flush(&self) {
        redis::cmd("FLUSHALL")
            .query::<()>(&mut self.raw())
            .expect("FLUSHALL");
    }

    /// The server's unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// The server's URL, database 0.
    pub fn url(&self) -> RedisUrl {
        let text = format!("redis+unix://{}", self.socket().display());
        match StoreUrl::parse(Some(&text), |_| None) {
            Ok(StoreUrl::Redis(url)) => url,
            other => panic!("{text} parsed as {other:?}"),
        }
    }

    /// A plain connection to the server, to look at what the store wrote.
    pub fn raw(&self) -> redis::Connection {
        let path = self.socket();
        redis::Client::open(redis::ConnectionAddr::Unix(path))
            .and_then(|c| c.get_connection())
            .expect("a connection to the test server")
    }

    /// A connection through its unix socket that gives up when it does not answer within
    /// [`QUERY_TIMEOUT`], for the sets' waits, whatever the server listens on besides (a set's
    /// server may speak TLS only); the error names `port`, the one it has in its set.
    fn bounded(&self, port: u16) -> Result<redis::Connection, String> {
        bounded(redis::ConnectionAddr::Unix(self.socket()), port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.thaw();
        }
        self.stop();
    }
}

/// Whether a server on `socket` answers `PING` (with `PONG`, or asking for a password).
fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut answer = [0; 64];
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let n = stream.read(&mut answer).unwrap_or(0);
    answer[..n].starts_with(b"+PONG") || answer[..n].starts_with(b"-NOAUTH")
}

/// A test certificate authority and a certificate it signed for `localhost` and `127.0.0.1`
/// (elliptic-curve keys, a day's validity), made with `openssl`, for servers that speak TLS. A
/// client of this crate trusts the authority when `SSL_CERT_FILE` names [`ca`](Self::ca), which
/// only a new process can be given ([`run_in_child`]).
pub struct TlsCerts {
    dir: PathBuf,
    /// Where [`make`](Self::make) wrote them, removed when they are dropped.
    _made: Option<tempfile::TempDir>,
}

impl TlsCerts {
    /// Makes an authority and a server certificate in a temporary directory.
    pub fn make() -> Self {
        let made = tempfile::tempdir().expect("a temporary directory");
        let dir = made.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl is installed");
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let ca = ["-keyout", "ca.key", "-out", "ca.pem", "-days", "1"];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &ca,
                &["-subj", "/CN=coord test authority"],
            ]
            .concat(),
        );
        let csr = ["-keyout", "server.key", "-out", "server.csr"];
        openssl(&[&["req"][..], &ec, &csr, &["-subj", "/CN=localhost"]].concat());
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("the certificate's names");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ]);
        Self {
            dir: dir.to_owned(),
            _made: Some(made),
        }
    }

    /// The certificates that [`make`](Self::make) wrote in `dir` (for another process).
    pub fn at(dir: PathBuf) -> Self {
        Self { dir, _made: None }
    }

    /// Where they are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The authority's certificate, for `SSL_CERT_FILE`.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The settings (name, value) of a server or sentinel that speaks TLS with them: the
    /// certificate (shown to clients, and to the servers it connects to), its key, the
    /// authority the certificates of others are checked against, no certificate asked of
    /// clients, and replication (for a sentinel: every connection it makes) over TLS.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let path = |name: &str| self.dir.join(name).display().to_string();
        vec![
            ("tls-cert-file", path("server.pem")),
            ("tls-key-file", path("server.key")),
            ("tls-ca-cert-file", path("ca.pem")),
            ("tls-auth-clients", "no".to_owned()),
            ("tls-replication", "yes".to_owned()),
        ]
    }
}

/// Runs `test`, an ignored test of this test binary, alone in a new process with `env` added
/// to its environment, and panics with its output unless it passed: for what only a new process
/// can be given, as the authority a TLS client trusts (`SSL_CERT_FILE`, read when connecting).
pub fn run_in_child(test: &str, env: &[(&str, &std::ffi::OsStr)]) {
    let child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([test, "--exact", "--ignored", "--nocapture"])
        .envs(env.iter().copied())
        .output()
        .expect("the test binary runs");
    let output = String::from_utf8_lossy(&child.stdout);
    let errors = String::from_utf8_lossy(&child.stderr);
    assert!(child.status.success(), "{test}: {output}{errors}");
    assert!(output.contains("1 passed"), "{test}: {output}{errors}");
}

/// An address that drops every connection attempt, like a black-holed host, without sending a
/// packet off this machine: a listener with a backlog of zero, filled by one connection that is
/// never accepted, so the kernel drops every later SYN.
pub fn black_hole() -> (socket2::Socket, TcpStream, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&any.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let filler = TcpStream::connect(addr).unwrap();
    (listener, filler, addr)
}

/// A free TCP port on loopback for a server to take ([`free_ports`]).
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// As many distinct free TCP ports on loopback as asked, for servers to take: picked at random
/// from 20000 up to the kernel's ephemeral ports (which an outgoing connection could take
/// before the server binds it), all bound at once to check them, then let go.
pub fn free_ports(n: usize) -> Vec<u16> {
    use std::hash::BuildHasher;
    const LOW: u16 = 20_000;
    let high = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768)
        .clamp(LOW + 1_000, 32_768);
    let random = std::hash::RandomState::new();
    let mut taken: Vec<(u16, std::net::TcpListener)> = Vec::new();
    for attempt in 0..100_000_u64 {
        if taken.len() == n {
            break;
        }
        let offset = random.hash_one(attempt) % u64::from(high - LOW);
        let port = LOW + u16::try_from(offset).expect("an offset below a u16");
        if taken.iter().all(|(p, _)| *p != port)
            && let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port))
        {
            taken.push((port, listener));
        }
    }
    assert_eq!(taken.len(), n, "{n} free ports between {LOW} and {high}");
    taken.into_iter().map(|(port, _)| port).collect()
}

/// How long one query of a set's waits may take before it counts as no answer (a frozen
/// server).
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection to the server on loopback `port` that gives up when it does not answer within
/// [`QUERY_TIMEOUT`], for the sets' waits; the error names the port.
fn tcp(port: u16) -> Result<redis::Connection, String> {
    bounded(
        redis::ConnectionAddr::Tcp("127.0.0.1".to_owned(), port),
        port,
    )
}

/// A connection to `addr`, the server on loopback `port`, that gives up when it does not
/// answer within [`QUERY_TIMEOUT`]; the error names the port.
fn bounded(addr: redis::ConnectionAddr, port: u16) -> Result<redis::Connection, String> {
    let open = || {
        let conn = redis::Client::open(addr)?.get_connection_with_timeout(QUERY_TIMEOUT)?;
        conn.set_read_timeout(Some(QUERY_TIMEOUT))?;
        conn.set_write_timeout(Some(QUERY_TIMEOUT))?;
        Ok::<_, redis::RedisError>(conn)
    };
    open().map_err(|e| format!("127.0.0.1:{port}: {e}"))
}

/// Runs `cmd` on `conn` to the server on `port`; the error names the port.
fn query<T: redis::FromRedisValue>(
    cmd: &redis::Cmd,
    conn: &mut redis::Connection,
    port: u16,
) -> Result<T, String> {
    cmd.query(conn)
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))
}

/// One field of an `INFO` answer (`role`, `master_link_status`…).
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}

/// The role (`master`, `slave`) the server on `port` gives in `ROLE` on `conn`.
fn role(conn: &mut redis::Connection, port: u16) -> Result<String, String> {
    let role: Vec<redis::Value> = query(&redis::cmd("ROLE"), conn, port)?;
    match role.first() {
        Some(redis::Value::BulkString(b)) => Ok(String::from_utf8_lossy(b).into_owned()),
        other => Err(format!("127.0.0.1:{port}: ROLE answered {other:?}")),
    }
}

/// Whether the server on `port` replicates the master on `master` with its link up, or why not.
fn replicates(port: u16, master: u16) -> Result<(), String> {
    replicates_on(&mut tcp(port)?, port, master)
}

/// The same, asked on `conn` to the server on `port`.
fn replicates_on(conn: &mut redis::Connection, port: u16, master: u16) -> Result<(), String> {
    let info: String = query(redis::cmd("INFO").arg("replication"), conn, port)?;
    let field = |f| info_field(&info, f).unwrap_or("?");
    if field("role") == "slave"
        && field("master_port") == master.to_string()
        && field("master_link_status") == "up"
    {
        Ok(())
    } else {
        Err(format!(
            "127.0.0.1:{port} is {}, of {}, link {}",
            field("role"),
            field("master_port"),
            field("master_link_status")
        ))
    }
}

/// Polls `check` until it gives a value, or panics after `timeout` saying what it waited for
/// and why the last check failed.
fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(done) => return done,
            Err(why) if Instant::now() >= deadline => {
                panic!("gave up after {timeout:?} waiting for {what}: {why}")
            }
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}
