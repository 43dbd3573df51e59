//! A private tmux server for one test (its own `TMUX_TMPDIR`), and `coord run --tmux` in it.

use std::process::{Command, Stdio};

use super::World;

/// A private tmux server for one test.
pub struct Tmux {
    pub dir: tempfile::TempDir,
}

impl Tmux {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn cmd(&self, w: &World) -> Command {
        let mut c = w.cmd();
        c.env("TMUX_TMPDIR", self.dir.path());
        c
    }

    pub fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(args)
            .env("TMUX_TMPDIR", self.dir.path())
            .env_remove("TMUX")
            .output()
            .unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

pub fn run_in_tmux(w: &World, t: &Tmux, name: &str, extra: &[&str], script: &str) {
    let mut args = vec!["run", "--tmux", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    let out = super::succeed(
        t.cmd(w)
            .env("XDG_STATE_HOME", w.dir.path().join("state"))
            .args(&args)
            .stdin(Stdio::null()),
    );
    assert_eq!(out.trim(), name);
}
