//! The load generator of `bench/server-throughput`: heartbeats through a running `coord serve`
//! on loopback, over keep-alive HTTP/1.1 connections, bounded in time and connections. It
//! writes requests and reads answers on plain TCP, so what it measures is the server, not a
//! client library.
//!
//! ```text
//! load ADDR register IDS                          register instances bench-0 … bench-<IDS-1>
//! load ADDR tasks N                               add N tasks to the queue
//! load ADDR METHOD BATCH CONNS SECONDS IDS        call METHOD for them, BATCH calls per
//!                                                 request: system.heartbeat,
//!                                                 session.heartbeat, or task.claim (each
//!                                                 instance claims the next waiting task)
//! ```
//!
//! Prints one line: `calls/s requests/s errors p50_ms p99_ms`.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// The longest run allowed.
const MAX_SECONDS: u64 = 60;
/// The most connections allowed.
const MAX_CONNS: usize = 64;

/// The error code of a claim that found nothing waiting.
const NOTHING_WAITS: &str = "\"code\":-32010";

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// A keep-alive connection that posts JSON-RPC bodies.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: &str) -> Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Posts `body` to /rpc; the status and the answer.
    fn post(&mut self, body: &str) -> Result<(u16, String)> {
        let head = format!(
            "POST /rpc HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(head.as_bytes())?;
        self.writer.write_all(body.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .ok_or("no status line")?
            .parse()?;
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut answer = vec![0; length];
        self.reader.read_exact(&mut answer)?;
        Ok((status, String::from_utf8(answer)?))
    }
}

/// The start of an answer, for a message.
fn shown(answer: &str) -> String {
    answer.chars().take(300).collect()
}

/// One call of `method` by instance `bench-<id>`, request id `n`.
fn call(method: &str, id: usize, n: usize) -> String {
    let field = match method {
        "task.claim" => "session",
        _ if method.starts_with("system.") => "instanceId",
        _ => "id",
    };
    format!(
        r#"{{"jsonrpc":"2.0","method":"{method}","params":{{"{field}":"bench-{id}"}},"id":{n}}}"#
    )
}

fn body(method: &str, batch: usize, ids: usize, next: &mut usize) -> String {
    let calls: Vec<String> = (0..batch)
        .map(|_| {
            *next += 1;
            call(method, *next % ids, *next)
        })
        .collect();
    if batch == 1 {
        calls.concat()
    } else {
        format!("[{}]", calls.join(","))
    }
}

fn register(addr: &str, ids: usize) -> Result<()> {
    let mut conn = Conn::open(addr)?;
    for start in (0..ids).step_by(100) {
        let calls: Vec<String> = (start..ids.min(start + 100))
            .map(|i| {
                format!(
                    r#"{{"jsonrpc":"2.0","method":"system.register","params":{{"id":"bench-{i}","roles":["worker"]}},"id":{i}}}"#
                )
            })
            .collect();
        let (status, answer) = conn.post(&format!("[{}]", calls.join(",")))?;
        if status != 200 || answer.contains("\"error\"") {
            return Err(format!("registering failed: {status} {}", shown(&answer)).into());
        }
    }
    Ok(())
}

/// Adds `n` tasks, `q-0` … `q-<n-1>`, a hundred per request, on four connections.
fn add_tasks(addr: &str, n: usize) -> Result<()> {
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let addr = addr.to_owned();
            thread::spawn(move || add_some(&addr, n, w, 4))
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a worker panicked")??;
    }
    Ok(())
}

/// Adds the tasks of every `of`-th hundred from the `w`-th on.
fn add_some(addr: &str, n: usize, w: usize, of: usize) -> Result<()> {
    let mut conn = Conn::open(addr)?;
    for start in (w * 100..n).step_by(100 * of) {
        let calls: Vec<String> = (start..n.min(start + 100))
            .map(|i| {
                format!(
                    r#"{{"jsonrpc":"2.0","method":"task.add","params":{{"id":"q-{i}","title":"work {i}"}},"id":{i}}}"#
                )
            })
            .collect();
        let (status, answer) = conn.post(&format!("[{}]", calls.join(",")))?;
        if status != 200 || answer.contains("\"error\"") {
            return Err(format!("adding tasks failed: {status} {}", shown(&answer)).into());
        }
    }
    Ok(())
}

struct Tally {
    calls: u64,
    requests: u64,
    errors: u64,
    latencies: Vec<Duration>,
}

fn beat(
    addr: &str,
    method: &str,
    batch: usize,
    until: Instant,
    ids: usize,
    seed: usize,
) -> Result<Tally> {
    let mut conn = Conn::open(addr)?;
    let mut tally = Tally {
        calls: 0,
        requests: 0,
        errors: 0,
        latencies: Vec::new(),
    };
    let mut next = seed * 7919;
    while Instant::now() < until {
        let text = body(method, batch, ids, &mut next);
        let sent = Instant::now();
        let (status, answer) = conn.post(&text)?;
        tally.latencies.push(sent.elapsed());
        tally.requests += 1;
        let failed = if status == 200 {
            answer.matches("\"error\"").count() as u64
        } else {
            batch as u64
        };
        if method == "task.claim" && status == 200 && answer.contains(NOTHING_WAITS) {
            // The queue is empty: what was claimed counts, and this worker is done.
            tally.calls += batch as u64 - failed;
            break;
        }
        tally.calls += batch as u64;
        if failed > 0 && tally.errors == 0 {
            eprintln!("first failure: HTTP {status}: {}", shown(&answer));
        }
        tally.errors += failed;
    }
    Ok(tally)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T> {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("argument {i}: expected {what}").into())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr: String = arg(&args, 1, "ADDR")?;
    let method: String = arg(&args, 2, "register, tasks, or a method")?;
    match method.as_str() {
        "register" => return register(&addr, arg(&args, 3, "IDS")?),
        "tasks" => return add_tasks(&addr, arg(&args, 3, "N")?),
        _ => {}
    }
    let batch: usize = arg(&args, 3, "BATCH")?;
    let conns: usize = arg::<usize>(&args, 4, "CONNS")?.clamp(1, MAX_CONNS);
    let seconds: u64 = arg::<u64>(&args, 5, "SECONDS")?.clamp(1, MAX_SECONDS);
    let ids: usize = arg::<usize>(&args, 6, "IDS")?.max(1);
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..conns)
        .map(|c| {
            let (addr, method) = (addr.clone(), method.clone());
            thread::spawn(move || beat(&addr, &method, batch, until, ids, c))
        })
        .collect();
    let mut total = Tally {
        calls: 0,
        requests: 0,
        errors: 0,
        latencies: Vec::new(),
    };
    for w in workers {
        let t = w.join().map_err(|_| "a worker panicked")??;
        total.calls += t.calls;
        total.requests += t.requests;
        total.errors += t.errors;
        total.latencies.extend(t.latencies);
    }
    let took = start.elapsed().as_secs_f64();
    total.latencies.sort_unstable();
    let per_mille = |p: usize| {
        let i = total.latencies.len().saturating_sub(1) * p / 1000;
        total
            .latencies
            .get(i)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let per_second = |n: u64| f64::from(u32::try_from(n).unwrap_or(u32::MAX)) / took;
    println!(
        "{:.0} {:.0} {} {:.2} {:.2}",
        per_second(total.calls),
        per_second(total.requests),
        total.errors,
        per_mille(500),
        per_mille(990)
    );
    Ok(())
}
