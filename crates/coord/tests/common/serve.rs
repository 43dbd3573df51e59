//! A real `coord serve` on a free loopback port over a world's store, killed when dropped, and
//! a JSON-RPC client of it over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::World;

/// A running `coord serve`.
pub struct Served {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    /// The world whose store it serves.
    pub world: World,
}

impl Served {
    /// Starts `coord serve --listen 127.0.0.1:0 <extra>` on `world`'s store and waits until it
    /// listens; its log goes to `serve.log` in the world's directory.
    pub fn start(world: World, extra: &[&str]) -> Self {
        Self::start_with(world, extra, &[])
    }

    /// [`start`](Self::start), with `env` set for the server.
    pub fn start_with(world: World, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let log = std::fs::File::create(world.dir.path().join("serve.log")).unwrap();
        let mut child = world
            .cmd()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("coord serve said {line:?}"))
            .to_owned();
        Self { child, addr, world }
    }

    /// `COORD_URL` for a client of this server.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the server still runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Stops the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A blocking HTTP client of a `coord serve`, with its bearer token if it takes one.
pub struct Client {
    base: String,
    token: Option<String>,
    /// The agent, for requests the helpers do not make.
    pub http: ureq::Agent,
}

impl Client {
    /// A client of the server at `addr` (`host:port`); HTTP errors are answers, not failures.
    pub fn new(addr: &str, token: Option<String>) -> Self {
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Self {
            base: format!("http://{addr}"),
            token,
            http,
        }
    }

    /// The URL of `path` on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// POSTs `body` as JSON to `path`; the status and the body.
    pub fn post(&self, path: &str, body: impl AsRef<[u8]>) -> (u16, String) {
        let mut req = self
            .http
            .post(self.url(path))
            .header("Content-Type", "application/json");
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(body.as_ref()).unwrap();
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap())
    }

    /// GETs `path`; the status and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut req = self.http.get(self.url(path));
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().unwrap();
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap())
    }

    /// Sends one JSON value to /rpc and parses the answer (HTTP 200 expected).
    pub fn rpc(&self, body: &Value) -> Value {
        let (status, text) = self.post("/rpc", body.to_string());
        assert_eq!(status, 200, "{body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Calls `method` and returns its whole answer.
    pub fn call(&self, method: &str, params: Value) -> Value {
        let mut request = json!({ "jsonrpc": "2.0", "method": method, "id": 1 });
        request["params"] = params;
        self.rpc(&request)
    }

    /// Calls `method`, expecting a result.
    pub fn ok(&self, method: &str, params: Value) -> Value {
        let answer = self.call(method, params);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Calls `method`, expecting an error; returns the error object.
    pub fn err(&self, method: &str, params: Value) -> Value {
        let answer = self.call(method, params);
        assert!(answer.get("result").is_none(), "{method}: {answer}");
        answer["error"].clone()
    }

    /// Waits until the server leads its fleet (its own session holds the lease).
    pub fn wait_until_leading(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let (status, body) = self.get("/healthz");
            if status == 200 {
                let health: Value = serde_json::from_str(&body).unwrap();
                if health["leader"]["instanceId"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("coord-serve@"))
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("coord serve did not take the lead");
    }
}
