//! The way to a session's agent for a person: its tmux pane, from the labels discovery and
//! `coord run --tmux` give it ([`tmux::PANE_LABEL`], [`tmux::SOCKET_LABEL`]). `coord attach`
//! runs it, `coord top` runs it on Enter, and the dashboard shows its command to copy.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use coord_core::Session;

use crate::discover::tmux;

/// How a person reaches the pane of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Way {
    /// The person is in a tmux client of the pane's server, on this host: that client
    /// switches to the pane.
    Switch(Target),
    /// The pane is on this host: a new tmux client attaches to it.
    Attach(Target),
    /// The pane is on another host: the person runs this line.
    Elsewhere {
        /// The host.
        host: String,
        /// `ssh HOST -t tmux … attach -t PANE`.
        line: String,
    },
}

/// A pane on a tmux server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The server's socket; `None` for this user's default server.
    pub socket: Option<PathBuf>,
    /// `session:window.pane`.
    pub pane: String,
}

impl Target {
    /// The arguments of `tmux` that reach the server.
    #[must_use]
    pub fn server_args(&self) -> Vec<&std::ffi::OsStr> {
        match &self.socket {
            Some(socket) => vec!["-S".as_ref(), socket.as_os_str()],
            None => Vec::new(),
        }
    }

    /// `tmux [-S SOCKET] attach -t PANE`, quoted for a shell.
    #[must_use]
    pub fn attach_line(&self) -> String {
        self.line("attach")
    }

    /// `tmux … switch-client -t PANE`: moves the person's client (of the pane's server) there.
    #[must_use]
    pub fn switch(&self) -> Command {
        let mut cmd = self.tmux();
        cmd.args(["switch-client", "-t", &self.pane]);
        cmd
    }

    /// `tmux … attach-session -t PANE`: a new client of the pane. Outside any other server's
    /// client, which tmux would refuse to nest one in.
    #[must_use]
    pub fn attach(&self) -> Command {
        let mut cmd = self.tmux();
        cmd.env_remove("TMUX")
            .args(["attach-session", "-t", &self.pane]);
        cmd
    }

    /// Whether the pane still exists; if not, why, for the person who asked for session `id`.
    pub fn check(&self, id: &str) -> Result<(), Unreachable> {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", &self.pane, "#{pane_id}"])
            .stdin(Stdio::null())
            .output()
            .map_err(Unreachable::NoTmux)?;
        if out.status.success() {
            return Ok(());
        }
        Err(Unreachable::Gone {
            id: id.to_owned(),
            pane: self.pane.clone(),
            server: self
                .socket
                .as_ref()
                .map_or_else(|| "the default one".to_owned(), |s| s.display().to_string()),
            why: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(self.server_args());
        cmd
    }

    /// `tmux [-S SOCKET] COMMAND -t PANE`, quoted for a shell.
    #[must_use]
    pub fn line(&self, command: &str) -> String {
        let mut line = String::from("tmux");
        if let Some(socket) = &self.socket {
            line.push_str(" -S ");
            line.push_str(&quote(&socket.display().to_string()));
        }
        line.push(' ');
        line.push_str(command);
        line.push_str(" -t ");
        line.push_str(&quote(&self.pane));
        line
    }
}

/// Why a session has no way to it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{id} runs in no tmux pane coord knows of: it was neither started with `coord run --tmux` \
     nor found running in a tmux pane (its `tmux` label)"
)]
pub struct NoPane {
    /// The session.
    pub id: String,
}

/// Why a pane coord knows of cannot be reached now.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    /// tmux does not run here.
    #[error("cannot run tmux (is it installed?): {0}")]
    NoTmux(#[source] std::io::Error),
    /// The pane closed, or its server ended.
    #[error("the pane `{pane}` of {id} is gone (tmux server {server}: {why})")]
    Gone {
        /// The session.
        id: String,
        /// The pane.
        pane: String,
        /// The server's socket, or "the default one".
        server: String,
        /// What tmux said.
        why: String,
    },
}

/// The way to `session`'s pane from `here` (this host's name), for a person in the tmux
/// server behind `in_tmux` (the socket `$TMUX` names), if any.
pub fn way(session: &Session, here: &str, in_tmux: Option<&Path>) -> Result<Way, NoPane> {
    let pane = session
        .labels
        .get(tmux::PANE_LABEL)
        .ok_or_else(|| NoPane {
            id: session.id.clone(),
        })?
        .clone();
    let socket = session.labels.get(tmux::SOCKET_LABEL).map(PathBuf::from);
    let target = Target { socket, pane };
    if session.host != here {
        return Ok(Way::Elsewhere {
            line: format!("ssh {} -t {}", quote(&session.host), target.attach_line()),
            host: session.host.clone(),
        });
    }
    let same_server = in_tmux.is_some_and(|current| match &target.socket {
        Some(socket) => socket == current,
        None => tmux::default_socket().as_deref() == Some(current),
    });
    Ok(if same_server {
        Way::Switch(target)
    } else {
        Way::Attach(target)
    })
}

/// The command that takes a person to `session`'s agent from any machine on the same store
/// (`coord attach ID`, which finds the way from there), if it runs in a pane coord knows of.
#[must_use]
pub fn command(session: &Session) -> Option<String> {
    session
        .labels
        .contains_key(tmux::PANE_LABEL)
        .then(|| format!("coord attach {}", quote(&session.id)))
}

/// `text` as one word of a POSIX shell: as it is when it holds nothing the shell reads, else
/// in single quotes.
fn quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@%+=,".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(host: &str, labels: &[(&str, &str)]) -> Session {
        let registration = coord_core::Registration {
            id: "web-3".into(),
            parent: None,
            host: host.into(),
            pid: None,
            pid_start: None,
            boot_id: None,
            runtime: coord_core::Runtime::Other,
            task: String::new(),
            cwd: None,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            log_path: None,
            policy: coord_core::PolicyOverrides::default(),
            phase: coord_core::Phase::Working,
            source: coord_core::Source::Cli,
            restart: false,
        };
        registration
            .apply(None, coord_core::Timestamp::from_millis(0))
            .0
    }

    #[test]
    fn a_session_without_a_pane_has_no_way_and_says_why() {
        let e = way(&session("a", &[]), "a", None).unwrap_err();
        assert!(e.to_string().contains("coord run --tmux"), "{e}");
        assert_eq!(command(&session("a", &[])), None);
    }

    #[test]
    fn a_session_in_a_pane_has_the_command_to_copy() {
        let s = session("b", &[("tmux", "w:0.0")]);
        assert_eq!(command(&s).as_deref(), Some("coord attach web-3"));
    }

    #[test]
    fn on_another_host_the_line_to_run_there_is_given() {
        let s = session("b", &[("tmux", "my work:0.1"), ("tmux-socket", "/tmp/s")]);
        assert_eq!(
            way(&s, "a", None).unwrap(),
            Way::Elsewhere {
                host: "b".into(),
                line: "ssh b -t tmux -S /tmp/s attach -t 'my work:0.1'".into()
            }
        );
    }

    #[test]
    fn inside_the_panes_server_the_client_switches_else_a_client_attaches() {
        let s = session("a", &[("tmux", "w:0.0"), ("tmux-socket", "/tmp/s")]);
        let target = Target {
            socket: Some("/tmp/s".into()),
            pane: "w:0.0".into(),
        };
        let from = |t: Option<&str>| way(&s, "a", t.map(Path::new)).unwrap();
        assert_eq!(from(Some("/tmp/s")), Way::Switch(target.clone()));
        assert_eq!(from(Some("/tmp/other")), Way::Attach(target.clone()));
        assert_eq!(from(None), Way::Attach(target));
    }
}
