//! The watcher's hook receiver: Claude Code's HTTP hooks (`"type": "http"`) post each event
//! here, so that no process is started per event (`coord hooks install --via http`).
//!
//! A small blocking HTTP/1.1 server on a loopback port, in the per-host watcher's process, with
//! no async runtime: a thread accepts, a thread per connection reads requests (kept alive, as
//! the agent keeps them) and answers each at once, and one thread records the events in the
//! order they arrived with a [`Service`] of its own, the same way `coord hook <Event>` does
//! ([`Service::record_hook`]). The agent waits for the answer only, never for the store.
//!
//! - `POST /coord/hook/<Event>` with the event's JSON: `200` and an empty body (nothing for
//!   the agent to do), whatever the body holds, as a command hook exits 0 on garbage.
//! - `GET /coord/health`: `200` when the receiver runs, for the installer to check before it
//!   points hooks here.
//!
//! Every request must carry the token in [`TOKEN_HEADER`] (`401` otherwise): the port is
//! reachable by every local user and by any web page a browser opens, and neither may write
//! sessions. The token is kept in a file only its owner reads ([`load_or_create_token`]).
//!
//! An HTTP hook says which session but not which process: the receiver asks the agent's
//! status file ([`Service::claude_pid`]) when a session has to be registered.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use coord_core::agent_event::HookPayload;
use subtle::ConstantTimeEq;

use crate::Service;

/// Where the receiver listens unless told otherwise, and where `--via http` points hooks.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7078);

/// The header that carries the token.
pub const TOKEN_HEADER: &str = "X-Coord-Hook-Token";

/// The path an event is posted to, the event's name after it.
pub const HOOK_PATH: &str = "/coord/hook/";

/// The path that answers whether the receiver runs.
pub const HEALTH_PATH: &str = "/coord/health";

/// The largest event taken, as on a hook's stdin.
const MAX_BODY: usize = 4 << 20;

/// The largest request head taken.
const MAX_HEAD: usize = 16 << 10;

/// How long a kept-alive connection may stay silent before it is closed.
const IDLE: Duration = Duration::from_secs(120);

/// How long a refused request's remains are read before the connection closes.
const LINGER: Duration = Duration::from_millis(200);

/// How many connections are served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 256;

/// How many received events may wait for the store; more are dropped, as a hook whose store
/// is down drops its event.
const BACKLOG: usize = 4096;

/// The receiver, bound, not yet receiving.
pub struct HookReceiver {
    listener: TcpListener,
    token: Arc<str>,
}

/// One event received, waiting to be recorded.
struct Received {
    event: String,
    body: Vec<u8>,
    at: Instant,
}

impl HookReceiver {
    /// Binds `addr`; requests must carry `token`.
    pub fn bind(addr: SocketAddr, token: &str) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
            token: token.into(),
        })
    }

    /// The address it listens on (the port chosen, when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts receiving on threads of its own, for as long as the process lives; events are
    /// recorded with `service`.
    pub fn spawn(self, service: Service) -> io::Result<()> {
        let (queue, received) = sync_channel(BACKLOG);
        thread::Builder::new()
            .name("coord-hook-record".into())
            .spawn(move || record(&service, &received))?;
        let Self { listener, token } = self;
        thread::Builder::new()
            .name("coord-hook-accept".into())
            .spawn(move || accept(&listener, &token, &queue))?;
        Ok(())
    }
}

/// Records events in arrival order, each at the time it arrived on the store's clock.
fn record(service: &Service, received: &Receiver<Received>) {
    for r in received {
        let Some(payload) = HookPayload::from_bytes(&r.body) else {
            continue;
        };
        let Ok(now) = service.now() else { continue };
        let session = payload.session_id.clone().unwrap_or_default();
        let find_agent = || service.claude_pid(&session);
        // A store that cannot be reached loses this event, as it would a command hook's.
        let _ = service.record_hook(
            &r.event,
            &payload,
            now.minus(r.at.elapsed()),
            &find_agent,
            None,
        );
    }
}

/// Accepts connections, each served on a thread of its own.
fn accept(listener: &TcpListener, token: &Arc<str>, queue: &SyncSender<Received>) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let (token, queue, done) = (Arc::clone(token), queue.clone(), Arc::clone(&open));
        let spawned = thread::Builder::new()
            .name("coord-hook-conn".into())
            .spawn(move || {
                let _ = serve(stream, &token, &queue);
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A request, as far as the receiver reads it.
struct Request {
    method: String,
    path: String,
    token_ok: bool,
    keep_alive: bool,
    body: Vec<u8>,
}

/// Serves one connection until it closes, goes idle or sends something that is not HTTP.
fn serve(stream: TcpStream, token: &str, queue: &SyncSender<Received>) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    loop {
        let request = match read_request(&mut input, token) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(Refused(status)) => {
                answer(&mut out, status, false)?;
                // What the client still sends is read and dropped for a moment, so that
                // closing with it unread does not reset the connection before the answer
                // is read.
                out.shutdown(std::net::Shutdown::Write)?;
                input.get_ref().set_read_timeout(Some(LINGER))?;
                let _ = io::copy(&mut input.take(MAX_BODY as u64), &mut io::sink());
                return Ok(());
            }
        };
        let at = Instant::now();
        let status = if !request.token_ok {
            "401 Unauthorized"
        } else if request.method == "GET" && request.path == HEALTH_PATH {
            "200 OK"
        } else if let Some(event) = request.path.strip_prefix(HOOK_PATH) {
            if request.method != "POST" {
                "405 Method Not Allowed"
            } else if is_event_name(event) {
                // A full backlog drops the event rather than make the agent wait.
                let _ = queue.try_send(Received {
                    event: event.to_owned(),
                    body: request.body,
                    at,
                });
                "200 OK"
            } else {
                "404 Not Found"
            }
        } else {
            "404 Not Found"
        };
        answer(&mut out, status, request.keep_alive)?;
        if !request.keep_alive {
            return Ok(());
        }
    }
}

/// A request refused before it was read whole, with the status to answer.
struct Refused(&'static str);

/// Reads one request: `None` when the connection closed (or went idle) between requests.
fn read_request(input: &mut BufReader<TcpStream>, token: &str) -> Result<Option<Request>, Refused> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        // Never more than the head may hold, however long a line a client sends.
        let room = (MAX_HEAD + 1 - before) as u64;
        match input.by_ref().take(room).read_until(b'\n', &mut head) {
            Ok(0) | Err(_) if head.is_empty() => return Ok(None),
            Ok(0) | Err(_) => return Err(Refused("400 Bad Request")),
            Ok(_) => {}
        }
        if head.len() > MAX_HEAD {
            return Err(Refused("431 Request Header Fields Too Large"));
        }
        if head[before..] == *b"\r\n" || head[before..] == *b"\n" {
            // Blank lines before a request are allowed.
            if before == 0 {
                head.clear();
                continue;
            }
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(Refused("400 Bad Request")),
    }
    let (Some(method), Some(path), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(Refused("400 Bad Request"));
    };
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if header("transfer-encoding").is_some() {
        return Err(Refused("411 Length Required"));
    }
    let length = match header("content-length") {
        None => 0,
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or(Refused("400 Bad Request"))?,
    };
    if length > MAX_BODY {
        return Err(Refused("413 Content Too Large"));
    }
    let closes = header("connection").is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
    let request = Request {
        method: method.to_owned(),
        path: path.split('?').next().unwrap_or_default().to_owned(),
        token_ok: header(TOKEN_HEADER).is_some_and(|given| same(given, token.as_bytes())),
        keep_alive: version == 1 && !closes,
        body: Vec::new(),
    };
    let mut body = vec![0; length];
    input
        .read_exact(&mut body)
        .map_err(|_| Refused("400 Bad Request"))?;
    Ok(Some(Request { body, ..request }))
}

/// Writes an answer with no body.
fn answer(out: &mut TcpStream, status: &str, keep_alive: bool) -> io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n"
    )
}

/// Whether `name` can be an event's name (`PostToolUse`, `codex-notify`).
fn is_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Compares two secrets in time that depends on their lengths only.
fn same(given: &[u8], expected: &[u8]) -> bool {
    bool::from(given.ct_eq(expected))
}

/// Whether a receiver listens on `addr` and takes `token`: what `coord hooks install --via
/// http` checks before it points hooks there.
#[must_use]
pub fn answers(addr: SocketAddr, token: &str) -> bool {
    let wait = Duration::from_secs(2);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, wait) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(wait));
    let asked = write!(
        stream,
        "GET {HEALTH_PATH} HTTP/1.1\r\nHost: {addr}\r\n{TOKEN_HEADER}: {token}\r\n\
         Connection: close\r\n\r\n"
    );
    let mut status = String::new();
    asked.is_ok()
        && BufReader::new(stream).read_line(&mut status).is_ok()
        && status.starts_with("HTTP/1.1 200 ")
}

/// The token in `path`, created (random, readable by its owner only) when there is none yet.
pub fn load_or_create_token(path: &Path) -> io::Result<String> {
    if let Ok(text) = fs::read_to_string(path) {
        let token = text.trim();
        if token.len() >= 32 {
            return Ok(token.to_owned());
        }
    }
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut bytes = [0u8; 24];
    rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())?;
    let token = bytes.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    // Written beside, then renamed: a reader never sees half a token, and of two first
    // writers one wins whole.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    fs::read_to_string(path).map(|t| t.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_plain_words() {
        assert!(is_event_name("PostToolUse"));
        assert!(is_event_name("codex-notify"));
        for bad in ["", "a/b", "Stop?x", "..", &"x".repeat(65)] {
            assert!(!is_event_name(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abd", b"abc"));
        assert!(!same(b"ab", b"abc"));
        assert!(!same(b"", b"abc"));
    }

    /// A receiver on a private store; its address and token.
    fn receiver(dir: &Path) -> (SocketAddr, String) {
        let url = coord_store::StoreUrl::Sqlite(dir.join("coord.db"));
        let store = coord_store::open(&url, &coord_store::Config::new("default")).unwrap();
        let service = Service::new(
            store,
            crate::HostInfo::current(),
            coord_core::Policy::default(),
        );
        let token = "t".repeat(48);
        let r = HookReceiver::bind("127.0.0.1:0".parse().unwrap(), &token).unwrap();
        let addr = r.local_addr().unwrap();
        r.spawn(service).unwrap();
        (addr, token)
    }

    /// Sends `request` as it is; the status line of the answer.
    fn send(addr: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(request);
        let mut status = String::new();
        let _ = BufReader::new(stream).read_line(&mut status);
        status.trim_end().to_owned()
    }

    #[test]
    fn requests_that_are_not_hook_events_get_a_plain_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let (addr, token) = receiver(dir.path());
        let h = format!("{TOKEN_HEADER}: {token}\r\n");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                format!("GET /coord/hook/Stop HTTP/1.1\r\n{h}\r\n").into(),
                "405",
            ),
            (
                format!("POST /coord/hook/a%2Fb HTTP/1.1\r\n{h}\r\n").into(),
                "404",
            ),
            (format!("POST /elsewhere HTTP/1.1\r\n{h}\r\n").into(), "404"),
            (b"POST /coord/hook/Stop HTTP/1.1\r\n\r\n".to_vec(), "401"),
            (
                format!("POST /coord/hook/Stop HTTP/1.1\r\n{h}Transfer-Encoding: chunked\r\n\r\n")
                    .into(),
                "411",
            ),
            (
                format!("POST /coord/hook/Stop HTTP/1.1\r\n{h}Content-Length: 99999999\r\n\r\n")
                    .into(),
                "413",
            ),
            (
                format!(
                    "POST /coord/hook/Stop HTTP/1.1\r\nX: {}",
                    "y".repeat(64 << 10)
                )
                .into(),
                "431",
            ),
            (b"\x16\x03\x01 not http\r\n\r\n".to_vec(), "400"),
            (
                format!("GET {HEALTH_PATH} HTTP/1.1\r\n{h}\r\n").into(),
                "200",
            ),
        ];
        for (request, expected) in cases {
            let status = send(addr, &request);
            assert!(
                status.starts_with(&format!("HTTP/1.1 {expected} ")),
                "{}: {status}",
                String::from_utf8_lossy(&request[..request.len().min(80)])
            );
        }
        assert!(answers(addr, &token));
        assert!(!answers(addr, "wrong"));
    }

    #[test]
    fn a_token_is_created_once_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/hook-token");
        let first = load_or_create_token(&path).unwrap();
        assert_eq!(first.len(), 48);
        assert_eq!(load_or_create_token(&path).unwrap(), first);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
