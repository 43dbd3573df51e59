//! Headless Chromium for the dashboard's tests, driven over its debugging protocol (CDP: a
//! WebSocket, spoken with tungstenite; nothing fetched from the network): find the browser,
//! launch it with one page, call CDP methods, evaluate JavaScript in the page, wait for what
//! it shows, and save screenshots.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;

/// A WebSocket client: CDP's page socket, or a test's own on `/ws`.
pub type Socket = tungstenite::WebSocket<MaybeTlsStream<std::net::TcpStream>>;

/// The browser binary: `$CHROMIUM`, else the first of the usual names on `PATH`. `None` when
/// there is none and this is not CI; under CI a missing browser fails the test.
pub fn chromium() -> Option<PathBuf> {
    let named = std::env::var_os("CHROMIUM").map(PathBuf::from);
    let found = named.or_else(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Chromium is not installed (.ci/run installs the chromium package)"
        );
        eprintln!(
            "SKIPPED: Chromium is not installed (apt-get install chromium); set CI to fail instead"
        );
    }
    found
}

/// The next text message on `ws`, as JSON.
pub fn next_json(ws: &mut Socket) -> Value {
    loop {
        if let tungstenite::Message::Text(t) = ws.read().unwrap() {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// Headless Chromium with one page, driven over CDP; killed when dropped.
pub struct Browser {
    child: Child,
    page: Socket,
    next_id: u64,
    /// What the page wrote to its console or threw, for the message of a failed wait.
    console: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn launch(binary: &Path, readers: &str) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-background-networking",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1440,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let browser_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("Chromium did not open its DevTools port");
        let port = browser_url
            .trim_start_matches("ws://")
            .split(['/', ':'])
            .nth(1)
            .unwrap()
            .to_owned();
        let targets = ureq::get(format!("http://127.0.0.1:{port}/json/list"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let targets: Value = serde_json::from_str(&targets).unwrap();
        let page_url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("Chromium has no page")
            .to_owned();
        let (mut page, _) = tungstenite::connect(page_url).unwrap();
        if let MaybeTlsStream::Plain(s) = page.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        let mut browser = Self {
            child,
            page,
            next_id: 0,
            console: Vec::new(),
            _profile: profile,
        };
        browser.call("Runtime.enable", &json!({}));
        browser.call("Page.enable", &json!({}));
        browser.call(
            "Page.addScriptToEvaluateOnNewDocument",
            &json!({ "source": readers }),
        );
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            &json!({ "width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        browser
    }

    /// Sends one CDP command and returns its result; events read meanwhile are kept when they
    /// are the page's console output or exceptions.
    pub fn call(&mut self, method: &str, params: &Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.page
            .send(tungstenite::Message::Text(msg.to_string().into()))
            .unwrap();
        loop {
            let m = next_json(&mut self.page);
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
            match m["method"].as_str() {
                Some("Runtime.consoleAPICalled") => {
                    self.console.push(m["params"]["args"].to_string());
                }
                Some("Runtime.exceptionThrown") => self
                    .console
                    .push(m["params"]["exceptionDetails"].to_string()),
                _ => {}
            }
        }
    }

    pub fn open(&mut self, url: &str) {
        self.call("Page.navigate", &json!({ "url": url }));
    }

    /// Evaluates `expr` in the page; its value (promises awaited), or what it threw.
    pub fn try_eval(&mut self, expr: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            &json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        match r.get("exceptionDetails") {
            Some(e) => Err(e["exception"]["description"].to_string()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Evaluates `expr` in the page; its value. Panics if it throws.
    pub fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr)
            .unwrap_or_else(|e| panic!("{expr} threw {e}"))
    }

    /// Evaluates `expr` every 20 ms until it is truthy (not false, null, 0 or ""); how long
    /// that took. An expression that throws (the page is still loading) is not yet true.
    /// Panics after `within`, with the page's text and console.
    pub fn until(&mut self, expr: &str, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let v = self.try_eval(expr);
            let truthy = v.as_ref().is_ok_and(|v| {
                !matches!(v, Value::Null | Value::Bool(false)) && *v != json!(0) && *v != json!("")
            });
            if truthy {
                return start.elapsed();
            }
            if start.elapsed() >= within {
                let page = self.try_eval("document.body.innerText");
                panic!(
                    "the page never showed `{expr}` (last {v:?}); console: {:?}\npage: {page:?}",
                    self.console
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Saves a PNG of the page, down to the end of its content.
    pub fn screenshot(&mut self, path: &Path) {
        let height =
            self.eval("Math.ceil(document.getElementById('main').getBoundingClientRect().bottom)");
        let clip = json!({ "x": 0, "y": 0, "width": 1440, "height": height, "scale": 1 });
        let shot = self.call(
            "Page.captureScreenshot",
            &json!({ "format": "png", "clip": clip }),
        );
        let png = base64(shot["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64 (what CDP sends binary data as).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => u32::from(c - b'A'),
        b'a'..=b'z' => u32::from(c - b'a') + 26,
        b'0'..=b'9' => u32::from(c - b'0') + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0, |n, (i, &c)| n | value(c) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}
