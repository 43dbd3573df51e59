//! A private `redis-server` per test, so tests never touch the machine's own server (6379) nor
//! each other's data.
//!
//! [`RedisServer::start`] runs `redis-server` on a unix socket in a temporary directory, with
//! TCP off and nothing saved, waits until it answers `PING`, and kills it when dropped. A
//! missing `redis-server` fails the test (install the `redis-server` package): a Redis test
//! that skips would pass without testing anything.

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

    fn wait_for_pong(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            let child = self.child.as_mut().expect("a started server");
            if let Some(status) = child.try_wait().expect("the server's status") {
                panic!("redis-server exited at start: {status}");
            }
            if ping(&self.socket()) {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        panic!("redis-server did not answer PING within {START_TIMEOUT:?}");
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

/// A free TCP port on loopback: bound, then let go for a server to take.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A master, its replica and one sentinel that watches them (quorum 1), on loopback ports of
/// this test alone: a fleet's Redis with failover.
pub struct SentinelSet {
    pub master: RedisServer,
    pub replica: RedisServer,
    sentinel: Child,
    sentinel_port: u16,
    name: String,
    _dir: tempfile::TempDir,
}

impl SentinelSet {
    /// Starts them and waits until the sentinel knows the replica, in sync.
    pub fn start(name: &str) -> Self {
        let master_port = free_port();
        let master = RedisServer::start_with(&["--port", &master_port.to_string()]);
        let replica_port = free_port();
        let replica = RedisServer::start_with(&[
            "--port",
            &replica_port.to_string(),
            "--replicaof",
            "127.0.0.1",
            &master_port.to_string(),
        ]);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sentinel_port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {name} 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds {name} 1000\n\
                 sentinel failover-timeout {name} 5000\n",
                dir.path().display()
            ),
        )
        .expect("the sentinel's configuration");
        let sentinel = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel");
        let set = Self {
            master,
            replica,
            sentinel,
            sentinel_port,
            name: name.to_owned(),
            _dir: dir,
        };
        Self::wait("the sentinel to know the replica in sync", || {
            let replicas: Vec<Vec<String>> = redis::cmd("SENTINEL")
                .arg("replicas")
                .arg(&set.name)
                .query(&mut set.sentinel_raw()?)?;
            let mut replica = set.replica.raw();
            let info: String = redis::cmd("INFO").arg("replication").query(&mut replica)?;
            Ok(replicas.len() == 1 && info.contains("master_link_status:up"))
        });
        set
    }

    /// The store URL of the set: its sentinel and the master's name.
    pub fn url(&self) -> RedisUrl {
        let text = format!(
            "redis+sentinel://127.0.0.1:{}/{}",
            self.sentinel_port, self.name
        );
        match StoreUrl::parse(Some(&text), |_| None) {
            Ok(StoreUrl::Redis(url)) => url,
            other => panic!("{text} parsed as {other:?}"),
        }
    }

    /// Waits until the replica has every write the master took (`WAIT 1`).
    pub fn replicated(&self) {
        let synced: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(5000)
            .query(&mut self.master.raw())
            .expect("WAIT");
        assert_eq!(synced, 1, "the replica has the writes");
    }

    /// The port of the server the sentinel names as the master.
    pub fn master_port(&self) -> u16 {
        let (_, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&self.name)
            .query(&mut self.sentinel_raw().expect("the sentinel"))
            .expect("the master's address");
        port
    }

    /// Has the sentinel promote the replica, and waits until it is the master and the old
    /// master follows it.
    pub fn failover(&self) {
        let before = self.master_port();
        let _: () = redis::cmd("SENTINEL")
            .arg("failover")
            .arg(&self.name)
            .query(&mut self.sentinel_raw().expect("the sentinel"))
            .expect("SENTINEL FAILOVER");
        Self::wait("the failover", || {
            let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut self.master.raw())?;
            let demoted =
                matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"slave");
            Ok(self.master_port() != before && demoted)
        });
    }

    /// Waits until the sentinel names the server on `port` as the master.
    pub fn wait_for_master(&self, port: u16) {
        Self::wait("the sentinel to name the new master", || {
            let (_, named): (String, u16) = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&self.name)
                .query(&mut self.sentinel_raw()?)?;
            Ok(named == port)
        });
    }

    /// The replica's port.
    pub fn replica_port(&self) -> u16 {
        let port: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("port")
            .query(&mut self.replica.raw())
            .expect("the replica's port");
        port[1].parse().expect("a port")
    }

    fn sentinel_raw(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.sentinel_port))?
            .get_connection_with_timeout(Duration::from_secs(2))
    }

    fn wait(what: &str, mut done: impl FnMut() -> redis::RedisResult<bool>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if done().unwrap_or(false) {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("gave up waiting for {what}");
    }
}

impl Drop for SentinelSet {
    fn drop(&mut self) {
        let _ = self.sentinel.kill();
        let _ = self.sentinel.wait();
    }
}
