//! A WebSocket client on a `coord serve`'s `/ws` for the tests: opened by a program (no
//! `Origin`) or as a web page of some origin, JSON in and out, every read bounded in time.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;

/// An open WebSocket.
pub struct Ws(pub tungstenite::WebSocket<MaybeTlsStream<TcpStream>>);

impl Ws {
    /// Opens `ws://<addr>/ws`, with `Origin: <origin>` when given; the handshake's refusal
    /// (`tungstenite::Error::Http`) as it came.
    pub fn open(addr: &str, origin: Option<&str>) -> Result<Self, tungstenite::Error> {
        let mut req = format!("ws://{addr}/ws").into_client_request()?;
        if let Some(o) = origin {
            req.headers_mut().insert("Origin", o.parse().unwrap());
        }
        let (mut socket, _) = tungstenite::connect(req)?;
        if let MaybeTlsStream::Plain(s) = socket.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        }
        Ok(Self(socket))
    }

    /// Sends `v` as a text message.
    pub fn send(&mut self, v: &Value) {
        self.send_text(&v.to_string());
    }

    /// Sends `text` as it is.
    pub fn send_text(&mut self, text: &str) {
        self.0
            .send(tungstenite::Message::Text(text.into()))
            .unwrap();
    }

    /// The next text message, parsed.
    pub fn next(&mut self) -> Value {
        loop {
            if let tungstenite::Message::Text(t) = self.0.read().unwrap() {
                return serde_json::from_str(t.as_str()).unwrap();
            }
        }
    }
}
