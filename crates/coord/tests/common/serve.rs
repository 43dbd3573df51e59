//! A real `coord serve` on a free loopback port over a world's store, killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

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
