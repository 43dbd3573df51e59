//! A private `redis-server` per test, so tests never touch the machine's own server (6379) nor
//! each other's data.
//!
//! [`RedisServer::start`] runs `redis-server` on a unix socket in a temporary directory, with
//! TCP off and nothing saved, waits until it answers `PING`, and kills it when dropped. A
//! missing `redis-server` fails the test (install the `redis-server` package): a Redis test
//! that skips would pass without testing anything.

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

/// A `redis-server` of this test alone.
pub struct RedisServer {
    child: Child,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server listening on a unix socket only.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server on a unix socket, with `extra` arguments (a TLS port, say).
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("redis.sock");
        let child = Command::new("redis-server")
            .arg("--port")
            .arg("0")
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): install it (apt-get install redis-server)")
            });
        let mut server = Self { child, dir };
        server.wait_for_pong();
        server
    }

    fn wait_for_pong(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                panic!("redis-server exited at start: {status}");
            }
            if ping(&self.socket()) {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        panic!("redis-server did not answer PING within {START_TIMEOUT:?}");
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
        let _ = self.child.kill();
        let _ = self.child.wait();
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
