//! Where an agent runs in tmux: the pane whose process is the agent or one of its ancestors, as
//! `session:window.pane`, and the server's socket unless it is this user's default one: the
//! labels [`PANE_LABEL`] and [`SOCKET_LABEL`] a session carries, which `coord attach` follows.
//!
//! The tmux servers asked are the ones the agents themselves name (the `TMUX` variable a pane
//! gives its processes: the server's socket, whichever `-S` or `-L` started it) and the
//! default server of this user, if its socket exists. Each is asked once with
//! `tmux -S <socket> list-panes -a`, bounded in time; a missing `tmux`, a dead server or a slow
//! one only means no pane is known.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one tmux server may take to list its panes.
const LIST_TIMEOUT: Duration = Duration::from_millis(300);

/// The label holding a session's pane (`session:window.pane`).
pub const PANE_LABEL: &str = "tmux";

/// The label holding the socket of the pane's tmux server, when it is not the default one.
pub const SOCKET_LABEL: &str = "tmux-socket";

/// A pane: its server's socket and its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pane {
    /// The socket of the tmux server that has it.
    pub socket: PathBuf,
    /// `session:window.pane`.
    pub target: String,
}

impl Pane {
    /// Puts the pane in a session's labels: its target, and its server's socket unless that
    /// is this user's default one.
    pub fn label(&self, labels: &mut BTreeMap<String, String>) {
        labels.insert(PANE_LABEL.to_owned(), self.target.clone());
        if default_socket().as_ref() != Some(&self.socket) {
            labels.insert(SOCKET_LABEL.to_owned(), self.socket.display().to_string());
        }
    }
}

/// Every pane's process (its `pane_pid`) on the servers behind `sockets`, with the pane.
#[must_use]
pub(crate) fn panes(sockets: &[PathBuf]) -> HashMap<u32, Pane> {
    let mut panes = HashMap::new();
    for socket in sockets {
        if let Some(text) = list_panes(socket) {
            panes.extend(parse_panes(&text).map(|(pid, target)| {
                let socket = socket.clone();
                (pid, Pane { socket, target })
            }));
        }
    }
    panes
}

/// The tmux server socket a `TMUX` variable names (`<socket>,<server pid>,<session>`).
#[must_use]
pub fn socket_in(value: &[u8]) -> Option<PathBuf> {
    let socket = value.split(|b| *b == b',').next()?;
    (!socket.is_empty()).then(|| PathBuf::from(OsStr::from_bytes(socket)))
}

/// This user's default tmux server socket, when it exists.
#[must_use]
pub fn default_socket() -> Option<PathBuf> {
    let dir = std::env::var_os("TMUX_TMPDIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let uid = rustix::process::getuid().as_raw();
    let socket = dir.join(format!("tmux-{uid}")).join("default");
    socket.exists().then_some(socket)
}

/// The target of the pane that runs `chain` (a process, then its ancestors, nearest first).
#[must_use]
pub(crate) fn pane_of(
    chain: impl IntoIterator<Item = u32>,
    panes: &HashMap<u32, Pane>,
) -> Option<&Pane> {
    chain.into_iter().find_map(|pid| panes.get(&pid))
}

/// `tmux -S <socket> list-panes -a`: each pane's process and target, one a line; `None` when
/// tmux is missing, fails, or takes longer than [`LIST_TIMEOUT`].
fn list_panes(socket: &Path) -> Option<String> {
    let mut child = Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args([
            "list-panes",
            "-a",
            "-F",
            "#{pane_pid} #{session_name}:#{window_index}.#{pane_index}",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).ok().map(|_| text)
    });
    let deadline = Instant::now() + LIST_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = reader.join().ok().flatten()?;
    status
        .filter(std::process::ExitStatus::success)
        .map(|_| text)
}

/// The lines of `list-panes` as (pane process, target).
fn parse_panes(text: &str) -> impl Iterator<Item = (u32, String)> + '_ {
    text.lines().filter_map(|line| {
        let (pid, target) = line.split_once(' ')?;
        Some((pid.parse().ok()?, target.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_are_read_with_names_that_hold_spaces() {
        let text = "4242 agents:0.0\n4250 my work:2.1\nnot a pane\n";
        let panes: HashMap<u32, Pane> = parse_panes(text)
            .map(|(pid, target)| {
                let socket = PathBuf::from("/s");
                (pid, Pane { socket, target })
            })
            .collect();
        assert_eq!(panes.len(), 2);
        let found = pane_of([4300, 4250, 1], &panes).map(|p| p.target.as_str());
        assert_eq!(found, Some("my work:2.1"));
        assert_eq!(pane_of([4300, 1], &panes), None);
    }

    #[test]
    fn the_socket_is_the_first_field_of_tmux() {
        assert_eq!(
            socket_in(b"/tmp/t/sock,4211,0"),
            Some(PathBuf::from("/tmp/t/sock"))
        );
        assert_eq!(socket_in(b""), None);
    }

    #[test]
    fn a_socket_nobody_listens_on_gives_no_panes() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        assert!(panes(&[dir.path().join("sock")]).is_empty());
        assert!(started.elapsed() < LIST_TIMEOUT + Duration::from_millis(200));
    }
}
