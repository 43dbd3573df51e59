//! The link between a simulated host and the store: a TCP proxy that can be healed, cut or
//! black-holed at any moment, the network faults the fleet tests need.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Where a [`Proxy`] forwards to: a loopback TCP address or a unix socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A TCP address on loopback (anything else is refused).
    Tcp(SocketAddr),
    /// A unix socket (the test Redis listens on one).
    Unix(PathBuf),
}

/// What a [`Proxy`] does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forwards every byte.
    Healed,
    /// Closes every connection, resets new ones.
    Cut,
    /// Drops every byte both ways; new connections are accepted and never answered.
    BlackHole,
}

impl Mode {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Mode::Healed,
            1 => Mode::Cut,
            _ => Mode::BlackHole,
        }
    }
}

/// A TCP proxy on `127.0.0.1:0` whose link can be healed, cut or black-holed at any time.
/// Dropping it closes every connection and joins every thread it started.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    target: Target,
    mode: AtomicU8,
    stop: AtomicBool,
    accepted: AtomicU64,
    conns: Mutex<Conns>,
}

#[derive(Default)]
struct Conns {
    next: u64,
    open: HashMap<u64, Conn>,
    threads: Vec<JoinHandle<()>>,
}

/// An open connection, as the proxy holds it to close it from outside its pumps.
struct Conn {
    client: TcpStream,
    upstream: Option<Stream>,
    /// Some bytes of it were dropped: the stream is garbled, so it is closed on heal.
    tainted: Arc<AtomicBool>,
}

impl Conn {
    fn close(&self, abort: bool) {
        if abort {
            let _ = socket2::SockRef::from(&self.client).set_linger(Some(Duration::ZERO));
        }
        let _ = self.client.shutdown(Shutdown::Both);
        if let Some(up) = &self.upstream {
            up.shutdown();
        }
    }
}

/// The proxy's side towards the target.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn connect(target: &Target) -> std::io::Result<Self> {
        match target {
            Target::Tcp(addr) => {
                TcpStream::connect_timeout(addr, Duration::from_secs(2)).map(Stream::Tcp)
            }
            Target::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
        }
    }

    fn try_clone(&self) -> std::io::Result<Self> {
        match self {
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
        }
    }

    fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Proxy {
    /// Starts a proxy to `target`, healed.
    pub fn start(target: Target) -> Self {
        if let Target::Tcp(addr) = &target {
            assert!(
                addr.ip().is_loopback(),
                "a proxy forwards to loopback only, not {addr}"
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            target,
            mode: AtomicU8::new(Mode::Healed as u8),
            stop: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            conns: Mutex::default(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("proxy-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared))
                .unwrap()
        };
        Self {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Where it listens (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it forwards to.
    pub fn target(&self) -> &Target {
        &self.shared.target
    }

    /// Its current mode.
    pub fn mode(&self) -> Mode {
        Mode::from_u8(self.shared.mode.load(SeqCst))
    }

    /// Forwards normally again. Connections that lost bytes to a black hole are closed (their
    /// streams are garbled); the peer reconnects.
    pub fn heal(&self) {
        self.shared.mode.store(Mode::Healed as u8, SeqCst);
        let conns = self.shared.conns.lock().unwrap();
        for conn in conns.open.values() {
            if conn.tainted.load(SeqCst) || conn.upstream.is_none() {
                conn.close(false);
            }
        }
    }

    /// Closes every open connection at once (abortively: the peer sees a reset or EOF) and
    /// resets every new one as soon as it is accepted.
    pub fn cut(&self) {
        self.shared.mode.store(Mode::Cut as u8, SeqCst);
        let conns = self.shared.conns.lock().unwrap();
        for conn in conns.open.values() {
            conn.close(true);
        }
    }

    /// Keeps connections open but drops every byte both ways; accepts new connections and
    /// never answers them.
    pub fn black_hole(&self) {
        self.shared.mode.store(Mode::BlackHole as u8, SeqCst);
    }

    /// How many connections are open through it now.
    pub fn open_connections(&self) -> usize {
        self.shared.conns.lock().unwrap().open.len()
    }

    /// How many connections it has accepted since it started, whatever became of them.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        // Wake the acceptor from its blocking `accept`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let threads = {
            let mut conns = self.shared.conns.lock().unwrap();
            for conn in conns.open.values() {
                conn.close(true);
            }
            std::mem::take(&mut conns.threads)
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        shared.accepted.fetch_add(1, SeqCst);
        let _ = client.set_nodelay(true);
        let reset = |client: TcpStream| {
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            drop(client);
        };
        let upstream = match Mode::from_u8(shared.mode.load(SeqCst)) {
            Mode::Cut => {
                reset(client);
                continue;
            }
            Mode::BlackHole => None,
            Mode::Healed => {
                let Ok(up) = Stream::connect(&shared.target) else {
                    reset(client);
                    continue;
                };
                Some(up)
            }
        };
        if let Err(e) = open(shared, client, upstream) {
            eprintln!("proxy: cannot relay a connection: {e}");
        }
    }
}

/// Registers a connection and starts its pumps (one per direction; one that only drops bytes
/// when there is no upstream).
fn open(shared: &Arc<Shared>, client: TcpStream, upstream: Option<Stream>) -> std::io::Result<()> {
    let tainted = Arc::new(AtomicBool::new(upstream.is_none()));
    let conn = Conn {
        client: client.try_clone()?,
        upstream: upstream.as_ref().map(Stream::try_clone).transpose()?,
        tainted: Arc::clone(&tainted),
    };
    let mut conns = shared.conns.lock().unwrap();
    conns.threads.retain(|t| !t.is_finished());
    let id = conns.next;
    conns.next += 1;
    let spawn = |name: &str, from: Stream, to: Option<Stream>| {
        let shared = Arc::clone(shared);
        let tainted = Arc::clone(&tainted);
        thread::Builder::new()
            .name(format!("proxy-{name}-{id}"))
            .spawn(move || pump(&shared, id, from, to, &tainted))
    };
    match upstream {
        Some(up) => {
            let up2 = up.try_clone()?;
            conns
                .threads
                .push(spawn("up", Stream::Tcp(client.try_clone()?), Some(up))?);
            conns
                .threads
                .push(spawn("down", up2, Some(Stream::Tcp(client)))?);
        }
        None => conns
            .threads
            .push(spawn("hole", Stream::Tcp(client), None)?),
    }
    // A cut or a black hole that began while this connection was being opened: handle it as
    // the switch itself would have.
    let mode = Mode::from_u8(shared.mode.load(SeqCst));
    if mode == Mode::Cut || (mode == Mode::Healed && conn.upstream.is_none()) {
        conn.close(mode == Mode::Cut);
    }
    conns.open.insert(id, conn);
    Ok(())
}

/// Copies `from` to `to` while healed, drops what it reads otherwise; on EOF, an error or a
/// cut, closes the whole connection (so the other direction ends too) and forgets it.
fn pump(shared: &Shared, id: u64, mut from: Stream, mut to: Option<Stream>, tainted: &AtomicBool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match Mode::from_u8(shared.mode.load(SeqCst)) {
            Mode::Cut => break,
            Mode::Healed => {
                let Some(to) = to.as_mut() else { break };
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Mode::BlackHole => {
                tainted.store(true, SeqCst);
                // A heal that swept the connections before this one was tainted: close it
                // here (heal sets the mode, then reads the flags; this sets the flag, then
                // reads the mode).
                if Mode::from_u8(shared.mode.load(SeqCst)) == Mode::Healed {
                    break;
                }
            }
        }
    }
    let conn = shared.conns.lock().unwrap().open.remove(&id);
    if let Some(conn) = conn {
        conn.close(false);
    }
    from.shutdown();
    if let Some(to) = to {
        to.shutdown();
    }
}
